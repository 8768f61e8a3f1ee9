"""One function process: the Node bootstrap, its Runtime API, its output, and how it is stopped."""

import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path

from node_process_executor.runtime_api import InitError, Invocation, Reply, RuntimeApi

LOG = logging.getLogger(__name__)

BOOTSTRAP = Path(__file__).with_name("bootstrap.mjs")
# bootstrap.mjs writes this line after each invocation, before reporting it: once it is read, all
# of the invocation's output has been read too.
END_MARKER = "\x00node-process-executor:end "
MARKER_WAIT_SECONDS = 2.0
STOP_GRACE_SECONDS = 2.0


class TimedOut(Exception):
    pass


class Output:
    """Reads the process's stdout and stderr (one pipe, in order) line by line."""

    def __init__(self, stream, label: str) -> None:
        self._lines: list[str] = []
        self._all: list[str] = []
        self._ended: set[str] = set()
        self._changed = threading.Condition()
        self._label = label
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._changed:
                if line.startswith(END_MARKER):
                    self._ended.add(line[len(END_MARKER) :])
                else:
                    self._lines.append(line)
                    self._all.append(line)
                    LOG.info("[%s] %s", self._label, line)
                self._changed.notify_all()
        with self._changed:
            self._ended.add("*")
            self._changed.notify_all()

    def take(self, request_id: str | None = None) -> list[str]:
        """The lines since the last take; with a request id, waits until that invocation's end marker."""
        with self._changed:
            if request_id is not None:
                self._changed.wait_for(
                    lambda: request_id in self._ended or "*" in self._ended, MARKER_WAIT_SECONDS
                )
                self._ended.discard(request_id)
            lines, self._lines = self._lines, []
            return lines

    def everything(self) -> str:
        with self._changed:
            return "\n".join(self._all)


class FunctionProcess:
    def __init__(
        self,
        node: str,
        code_dir: Path,
        env: Mapping[str, str],
        sdk_modules: str,
        label: str,
    ) -> None:
        self.api = RuntimeApi()
        self.spawned_at = time.perf_counter()
        self.init_duration_ms: float | None = None
        self.proc = subprocess.Popen(
            [node, str(BOOTSTRAP), sdk_modules],
            cwd=code_dir,
            env={**env, "AWS_LAMBDA_RUNTIME_API": self.api.address},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            # Its own process group, so stop() reaches everything the function started.
            start_new_session=True,
        )
        self.output = Output(self.proc.stdout, label)
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self) -> None:
        code = self.proc.wait()
        self.api.runtime_exited(f"Runtime exited with error: exit status {code}")

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait_ready(self, timeout: float) -> None:
        """Blocks until the handler is loaded; raises InitError if it failed to load."""
        try:
            self.api.startup.result(timeout=timeout)
        except FutureTimeout:
            raise InitError(
                b'{"errorType":"Runtime.InitTimeout","errorMessage":"init did not finish"}',
                "Runtime.InitTimeout",
            ) from None
        self.init_duration_ms = (time.perf_counter() - self.spawned_at) * 1000

    def invoke(self, invocation: Invocation, timeout_seconds: float) -> Reply:
        self.api.submit(invocation)
        try:
            return invocation.reply.result(timeout=timeout_seconds)
        except FutureTimeout:
            raise TimedOut() from None

    def max_memory_mb(self) -> int:
        """Peak resident memory of the Node process (VmHWM), as REPORT's Max Memory Used."""
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024)
        except (OSError, ValueError):
            pass
        return 0

    def stop(self) -> None:
        """SIGTERM to the whole process group, SIGKILL after a grace period."""
        if self.alive:
            self._signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                pass
        # Whatever the function spawned may outlive Node itself.
        self._signal(signal.SIGKILL)
        self.proc.wait()
        self.api.close()

    def _signal(self, sig: signal.Signals) -> None:
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass
