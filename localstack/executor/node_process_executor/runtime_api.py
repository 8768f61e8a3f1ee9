"""The Lambda Runtime API (version 2018-06-01) of one function process, served on a loopback port.

The function process (bootstrap.mjs) long-polls ``/invocation/next``; the executor hands it one
invocation at a time and waits for ``/response`` or ``/error``. ``/init/error`` and a process that
exits early end the start-up instead.
"""

import json
import logging
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOG = logging.getLogger(__name__)

PREFIX = "/2018-06-01/runtime"
ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"


@dataclass
class Reply:
    """What the function answered (or what the executor answers for it)."""

    payload: bytes
    is_error: bool
    error_type: str | None = None


@dataclass
class Invocation:
    request_id: str
    function_arn: str
    trace_id: str
    payload: bytes
    deadline_ms: int
    reply: Future = field(default_factory=Future)


class InitError(Exception):
    """The function failed to initialise; ``payload`` is its error document."""

    def __init__(self, payload: bytes, error_type: str):
        super().__init__(error_type)
        self.payload = payload
        self.error_type = error_type


class RuntimeApi:
    def __init__(self) -> None:
        self._pending: queue.Queue[Invocation] = queue.Queue()
        self._in_flight: dict[str, Invocation] = {}
        self._closed = threading.Event()
        # Resolved by the first /next (ready) or failed by /init/error or an early exit.
        self.startup: Future = Future()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="lambda-runtime-api", daemon=True
        )
        self._thread.start()

    @property
    def address(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    def submit(self, invocation: Invocation) -> None:
        self._in_flight[invocation.request_id] = invocation
        self._pending.put(invocation)

    def runtime_exited(self, reason: str) -> None:
        """The process is gone: fail the start-up and whatever it was working on."""
        error = error_document("Runtime.ExitError", reason)
        if not self.startup.done():
            self.startup.set_exception(InitError(error, "Runtime.ExitError"))
        for invocation in list(self._in_flight.values()):
            self._settle(invocation.request_id, Reply(error, True, "Runtime.ExitError"))

    def close(self) -> None:
        self._closed.set()
        self._server.shutdown()
        self._server.server_close()

    def _settle(self, request_id: str, reply: Reply) -> bool:
        invocation = self._in_flight.pop(request_id, None)
        if invocation is None or invocation.reply.done():
            return False
        invocation.reply.set_result(reply)
        return True

    def _next(self) -> Invocation | None:
        if not self.startup.done():
            self.startup.set_result(True)
        while not self._closed.is_set():
            try:
                return self._pending.get(timeout=0.5)
            except queue.Empty:
                continue
        return None

    def _handler_class(self):
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format, *args):  # noqa: A002 - the base class's signature
                LOG.debug("runtime api: " + format, *args)

            def _body(self) -> bytes:
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _send(self, status: HTTPStatus, body: bytes = b"", headers: dict | None = None):
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path != f"{PREFIX}/invocation/next":
                    return self._send(HTTPStatus.NOT_FOUND)
                invocation = api._next()
                if invocation is None:
                    return self._send(HTTPStatus.GONE)
                self._send(
                    HTTPStatus.OK,
                    invocation.payload,
                    {
                        "Content-Type": "application/json",
                        "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
                        "Lambda-Runtime-Deadline-Ms": str(invocation.deadline_ms),
                        "Lambda-Runtime-Invoked-Function-Arn": invocation.function_arn,
                        "Lambda-Runtime-Trace-Id": invocation.trace_id,
                    },
                )

            def do_POST(self):
                body = self._body()
                path = self.path.removeprefix(PREFIX)
                if path == "/init/error":
                    error_type = self.headers.get(ERROR_TYPE_HEADER) or "Runtime.Unknown"
                    if not api.startup.done():
                        api.startup.set_exception(InitError(body, error_type))
                    return self._send(HTTPStatus.ACCEPTED)
                parts = path.strip("/").split("/")
                if len(parts) != 3 or parts[0] != "invocation" or parts[2] not in ("response", "error"):
                    return self._send(HTTPStatus.NOT_FOUND)
                request_id, kind = parts[1], parts[2]
                reply = (
                    Reply(body, False)
                    if kind == "response"
                    else Reply(body, True, self.headers.get(ERROR_TYPE_HEADER) or "Runtime.Unknown")
                )
                if not api._settle(request_id, reply):
                    # Too late (timed out) or unknown: the runtime must not report twice.
                    return self._send(HTTPStatus.BAD_REQUEST)
                self._send(HTTPStatus.ACCEPTED)

        return Handler


def error_document(error_type: str, message: str) -> bytes:
    """An error in the shape the Node.js runtime reports (errorType, errorMessage)."""
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()


def deadline_ms(timeout_seconds: int) -> int:
    return int(time.time() * 1000) + timeout_seconds * 1000
