"""LocalStack runtime executor that runs each execution environment as a Node.js process on the host.

Selected with ``LAMBDA_RUNTIME_EXECUTOR=node-process``. Each environment is one process of
``bootstrap.mjs`` in its own process group, with only the function's environment, its unpacked
code as working directory and a temp dir of its own. The executor enforces the function's timeout
(the process is killed, the next invocation starts a fresh one), writes AWS-shaped
START/END/REPORT lines and reports init and handler errors as Lambda does.

Settings (LocalStack's environment):
  LAMBDA_NODE_BINARY     the ``node`` to run (default: ``node`` on PATH)
  LAMBDA_NODE_SDK_PATH   a node_modules directory whose ``@aws-sdk/*`` packages stand in for the
                         SDK the Node.js runtime ships (function bundles leave it out)
  LAMBDA_NODE_EXTRA_CA_CERTS
                         a PEM file of CAs this machine trusts besides Node's own (a rehearsal
                         machine with a local broker's CA in its trust store): every function
                         process gets it as NODE_EXTRA_CA_CERTS, unless the function sets that itself
"""

import logging
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

from localstack import config
from localstack.aws.api.lambda_ import PackageType
from localstack.services.lambda_.invocation.executor_endpoint import StatusErrorException
from localstack.services.lambda_.invocation.lambda_models import FunctionVersion, InvocationResult
from localstack.services.lambda_.invocation.runtime_executor import (
    LambdaRuntimeException,
    RuntimeExecutor,
)

from node_process_executor import report
from node_process_executor.process import BOOTSTRAP, FunctionProcess, TimedOut
from node_process_executor.runtime_api import InitError, Invocation, Reply, deadline_ms, error_document

LOG = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"


def node_binary() -> str | None:
    return os.environ.get("LAMBDA_NODE_BINARY") or shutil.which("node")


class NodeProcessExecutor(RuntimeExecutor):
    def __init__(self, id: str, function_version: FunctionVersion) -> None:
        super().__init__(id=id, function_version=function_version)
        self._lock = threading.Lock()
        self._process: FunctionProcess | None = None
        self._env: dict[str, str] = {}
        self._tmp_dir: str | None = None

    @property
    def _label(self) -> str:
        return self.function_version.id.function_name

    def start(self, env_vars: dict[str, str]) -> None:
        self._tmp_dir = tempfile.mkdtemp(prefix=f"lambda-{self._label}-")
        self._env = self._process_environment(env_vars)
        try:
            self._process = self._spawn()
        except InitError as error:
            # LocalStack answers the pending invocation with this payload as a function error.
            raise StatusErrorException(error.error_type, payload=error.payload) from None

    def _process_environment(self, env_vars: dict[str, str]) -> dict[str, str]:
        node = node_binary() or "node"
        code_dir = str(self._code_dir())
        env = {name: str(value) for name, value in env_vars.items() if value is not None}
        # The machine's trust, not the function's configuration: a function's own setting wins.
        extra_ca = os.environ.get("LAMBDA_NODE_EXTRA_CA_CERTS")
        if extra_ca and "NODE_EXTRA_CA_CERTS" not in env:
            env["NODE_EXTRA_CA_CERTS"] = extra_ca
        env.update(
            {
                "LAMBDA_TASK_ROOT": code_dir,
                "LAMBDA_RUNTIME_DIR": str(BOOTSTRAP.parent),
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{self.function_version.config.runtime}",
                "PATH": os.pathsep.join([str(Path(node).parent), "/usr/local/bin", "/usr/bin", "/bin"]),
                "LANG": "en_US.UTF-8",
                "TMPDIR": self._tmp_dir or tempfile.gettempdir(),
            }
        )
        return env

    def _code_dir(self) -> Path:
        return self.function_version.config.code.get_unzipped_code_location()

    def _spawn(self) -> FunctionProcess:
        process = FunctionProcess(
            node=node_binary() or "node",
            code_dir=self._code_dir(),
            env=self._env,
            sdk_modules=os.environ.get("LAMBDA_NODE_SDK_PATH", ""),
            label=self._label,
        )
        try:
            process.wait_ready(timeout=config.LAMBDA_RUNTIME_ENVIRONMENT_TIMEOUT)
        except InitError:
            for line in process.output.take():
                LOG.warning("[%s] init: %s", self._label, line)
            process.stop()
            raise
        return process

    def stop(self) -> None:
        process, self._process = self._process, None
        if process:
            process.stop()
        if self._tmp_dir:
            shutil.rmtree(self._tmp_dir, ignore_errors=True)

    def get_address(self) -> str:
        return LOOPBACK

    def get_endpoint_from_executor(self) -> str:
        return LOOPBACK

    def get_runtime_endpoint(self) -> str:
        port = config.GATEWAY_LISTEN[0].port
        return f"http://{LOOPBACK}:{port}/_localstack_lambda/{self.id}"

    def invoke(self, payload: dict[str, str]) -> InvocationResult:
        with self._lock:
            return self._invoke(payload)

    def _invoke(self, payload: dict[str, str]) -> InvocationResult:
        request_id = payload["invoke-id"]
        config_ = self.function_version.config
        lines: list[str] = []
        process = self._process
        if process is None or not process.alive:
            # The previous process timed out or crashed: a fresh one, as Lambda does.
            try:
                process = self._process = self._spawn()
            except InitError as error:
                lines.append(report.start_line(request_id, self.function_version.id.qualifier))
                lines.append(report.end_line(request_id))
                lines.append(report.report_line(request_id, 0, config_.memory_size, 0,
                                                status="error", error_type=error.error_type))
                return InvocationResult(request_id, error.payload, is_error=True, logs="\n".join(lines))
        init_ms, process.init_duration_ms = process.init_duration_ms, None
        if init_ms is not None:
            lines.append(f"INIT_START Runtime Version: {config_.runtime} Runtime Executor: node-process")
            lines.extend(process.output.take())

        invocation = Invocation(
            request_id=request_id,
            function_arn=payload["invoked-function-arn"],
            trace_id=payload.get("trace-id") or "",
            payload=payload["payload"].encode(),
            deadline_ms=deadline_ms(config_.timeout),
        )
        lines.append(report.start_line(request_id, self.function_version.id.qualifier))
        started = time.perf_counter()
        status: str | None = None
        try:
            reply = process.invoke(invocation, config_.timeout)
        except TimedOut:
            status = "timeout"
            reply = Reply(
                error_document(
                    "Sandbox.Timedout",
                    f"RequestId: {request_id} Error: Task timed out after {config_.timeout:.2f} seconds",
                ),
                True,
                "Sandbox.Timedout",
            )
        duration_ms = (time.perf_counter() - started) * 1000
        memory_mb = process.max_memory_mb()
        if status == "timeout":
            process.stop()
            lines.extend(process.output.take())
            lines.append(report.timeout_line(request_id, config_.timeout))
        else:
            lines.extend(process.output.take(request_id))
        if reply.error_type == "Runtime.ExitError" or not process.alive:
            status = status or "error"
            process.stop()
        lines.append(report.end_line(request_id))
        lines.append(
            report.report_line(
                request_id,
                duration_ms,
                config_.memory_size,
                memory_mb,
                init_duration_ms=init_ms,
                status=status,
                error_type=reply.error_type if status else None,
            )
        )
        return InvocationResult(request_id, reply.payload, is_error=reply.is_error, logs="\n".join(lines))

    def get_logs(self) -> str:
        return self._process.output.everything() if self._process else ""

    @classmethod
    def prepare_version(cls, function_version: FunctionVersion) -> None:
        runtime = function_version.config.runtime or ""
        if function_version.config.package_type != PackageType.Zip or not runtime.startswith("nodejs"):
            raise LambdaRuntimeException(
                f"the node-process executor runs nodejs zip functions only, not {runtime or 'images'}"
            )
        if function_version.config.code:
            function_version.config.code.prepare_for_execution()

    @classmethod
    def cleanup_version(cls, function_version: FunctionVersion) -> None:
        pass

    @classmethod
    def validate_environment(cls) -> bool:
        if not node_binary():
            LOG.warning("node-process executor: no node binary (set LAMBDA_NODE_BINARY or put node on PATH)")
            return False
        return True
