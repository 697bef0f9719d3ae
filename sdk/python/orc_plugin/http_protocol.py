"""The http protocol: a warm container that serves many invocations.

The container listens on $ORC_PORT (8080). ``GET /healthz`` answers 200
``{"status": "ok"}`` once setup has finished (503 before, and while it
stops); ``POST /invoke`` takes the input JSON and answers 200 with the
output JSON, or an error in the API's shape, ``{"error": {"code",
"message"}}``:

==========================================  ======  ================
failure                                     status  code
==========================================  ======  ================
body is not JSON                            400     invalid
PluginError("invalid", ...)                 400     invalid
PluginError(code, ...), any other code      500     that code
any other exception (traceback to stderr)   500     plugin_failed
body over the limit (10 MiB by default)     413     too_large
setup has not finished, or stopping         503     unavailable
==========================================  ======  ================

The server keeps serving after a failed call. SIGTERM or SIGINT stops it:
it stops accepting connections, lets the calls in flight finish and exits 0.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import IO, Any
from urllib.parse import urlsplit

from . import _json
from ._plugin import DEFAULT_MAX_BODY_BYTES, Plugin
from ._version import __version__
from .errors import CODE_FAILED, CODE_INVALID, EXIT_FAILED, EXIT_OK, PluginError, format_traceback, summary

#: The header that carries the invocation's id, put into log lines.
INVOCATION_HEADER = "X-Orc-Invocation-Id"

# How much of a refused body is read and dropped before the connection is
# closed: enough for the usual over-limit input, bounded for abusive ones.
_DISCARD_BYTES = 64 << 20


class Server:
    """Server serves one Plugin over HTTP.

    serve() is the whole life of a warm container; tests and embedders use
    Server directly::

        server = Server(p, "127.0.0.1", 0)
        server.start()        # listening; /healthz answers 503
        server.setup()        # runs p's setup; /healthz answers 200
        ...                   # server.port is the port
        server.stop()         # finishes the calls in flight and closes
    """

    def __init__(self, p: Plugin, host: str = "0.0.0.0", port: int = 8080, *,
                 max_body_bytes: int = DEFAULT_MAX_BODY_BYTES, log: IO[str] | None = None) -> None:
        self.plugin = p
        self.max_body_bytes = max_body_bytes
        self._log = log
        self._ready = threading.Event()
        self._stopping = threading.Event()
        self._inflight = 0
        self._idle = threading.Condition()
        self._thread: threading.Thread | None = None
        self._httpd = _HTTPServer((host, port), _Handler)
        self._httpd.orc = self

    @property
    def host(self) -> str:
        return self._httpd.server_address[0]

    @property
    def port(self) -> int:
        """The port the server listens on (the chosen one when it was 0)."""
        return self._httpd.server_address[1]

    @property
    def ready(self) -> bool:
        return self._ready.is_set() and not self._stopping.is_set()

    def start(self) -> None:
        """Starts accepting connections in a background thread."""
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="orc-http", daemon=True)
        self._thread.start()

    def setup(self) -> None:
        """Runs the plugin's setup, then marks the server ready. Exceptions propagate."""
        self.plugin.load()
        self._ready.set()

    def stop(self, grace: float = 30.0) -> int:
        """Stops accepting, waits up to grace seconds for the calls in flight and closes.

        It returns how many calls were still running when it gave up.
        """
        with self._idle:
            self._stopping.set()  # under the lock: no call is admitted after it
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
        deadline = time.monotonic() + grace
        with self._idle:
            while self._inflight and time.monotonic() < deadline:
                self._idle.wait(deadline - time.monotonic())
            left = self._inflight
        self._httpd.server_close()
        return left

    def log(self, msg: str) -> None:
        stream = self._log if self._log is not None else sys.stderr
        with contextlib.suppress(Exception):
            stream.write(f"orc_plugin: {msg}\n")
            stream.flush()

    def _admit(self) -> str:
        """Counts a call in flight and returns "", or returns why it is refused."""
        with self._idle:
            if self._stopping.is_set():
                return "stopping"
            if not self._ready.is_set():
                return "starting"
            self._inflight += 1
            return ""

    @contextlib.contextmanager
    def _call(self):
        """Runs an admitted call (see _admit) and ends its count."""
        try:
            yield
        finally:
            with self._idle:
                self._inflight -= 1
                if not self._inflight:
                    self._idle.notify_all()


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    orc: Server


class _BodyTooLarge(Exception):
    pass


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 keeps the worker's connections open between calls; without
    # Nagle's algorithm a reply is not held back waiting for the client's
    # delayed ACK (40 ms a call otherwise).
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _HTTPServer

    def version_string(self) -> str:
        return "orc-plugin/" + __version__

    def log_message(self, format: str, *args: Any) -> None:
        # No access log: a warm container's log is about its calls' failures.
        pass

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == "/healthz":
            orc = self.server.orc
            if orc._stopping.is_set():
                self._reply(503, {"status": "stopping"})
            elif orc._ready.is_set():
                self._reply(200, {"status": "ok"})
            else:
                self._reply(503, {"status": "starting"})
        elif path == "/invoke":
            self._method_not_allowed("POST")
        else:
            self._error(404, "not_found", f"no {path}: the plugin serves GET /healthz and POST /invoke")

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        if path == "/healthz":
            self._drain_body()
            self._method_not_allowed("GET")
            return
        if path != "/invoke":
            self._drain_body()
            self._error(404, "not_found", f"no {path}: the plugin serves GET /healthz and POST /invoke")
            return
        orc = self.server.orc
        try:
            body = self._read_body(orc.max_body_bytes)
        except _BodyTooLarge:
            self.close_connection = True
            self._error(413, "too_large", f"the input is over {orc.max_body_bytes} bytes")
            self._discard_declared_body()
            return
        except ValueError as e:
            self.close_connection = True
            self._error(400, CODE_INVALID, f"read input: {e}")
            return
        if body is None:
            self.close_connection = True
            return  # the client went away
        refused = orc._admit()
        if refused:
            self.close_connection = refused == "stopping"
            self._error(503, "unavailable", f"the plugin is {refused}")
            return
        with orc._call():
            try:
                value = _json.decode(body)
            except ValueError as e:
                self._error(400, CODE_INVALID, f"decode input: {e}")
                return
            self._invoke(orc, value)

    def _invoke(self, orc: Server, value: Any) -> None:
        invocation = self.headers.get(INVOCATION_HEADER, "")
        where = f"invocation {invocation}: " if invocation else ""
        try:
            out = orc.plugin.invoke(value)
        except PluginError as e:
            if e.code != CODE_INVALID:
                orc.log(f"{where}{e.code}: {summary(e)}")
            self._error(e.http_status(), e.code, summary(e), e.details)
            return
        except Exception as e:
            tb = format_traceback(e)
            orc.log(f"{where}handler failed\n{tb}")
            self._error(500, CODE_FAILED, summary(e))
            return
        try:
            body = _json.encode(out)
        except (TypeError, ValueError, RecursionError) as e:
            orc.log(f"{where}encode output: {summary(e)}")
            self._error(500, CODE_FAILED, f"encode output: {summary(e)}")
            return
        self._send(200, body.encode("utf-8"))

    do_PUT = do_DELETE = do_PATCH = lambda self: self._unsupported()  # noqa: E731

    def _unsupported(self) -> None:
        self._drain_body()
        path = urlsplit(self.path).path
        if path in ("/healthz", "/invoke"):
            self._method_not_allowed("GET" if path == "/healthz" else "POST")
        else:
            self._error(404, "not_found", f"no {path}: the plugin serves GET /healthz and POST /invoke")

    def _read_body(self, limit: int) -> bytes | None:
        """Returns the request's body, or None when the client went away.

        Raises _BodyTooLarge past limit and ValueError for a malformed
        length or chunk.
        """
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked(limit)
        raw = self.headers.get("Content-Length")
        if raw is None:
            return b""
        try:
            length = int(raw)
        except ValueError:
            raise ValueError(f"Content-Length {raw!r} is not a number") from None
        if length < 0:
            raise ValueError(f"Content-Length {raw!r} is negative")
        if length > limit:
            raise _BodyTooLarge()
        body = self.rfile.read(length)
        return body if len(body) == length else None

    def _read_chunked(self, limit: int) -> bytes | None:
        # Past the limit the rest is read and dropped (up to _DISCARD_BYTES),
        # so that the client, still sending, gets the 413 rather than a reset.
        chunks, total = [], 0
        while True:
            line = self.rfile.readline(1024)
            if not line:
                return None
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise ValueError("malformed chunk size") from None
            if size == 0:
                break
            total += size
            if total > limit + _DISCARD_BYTES:
                raise _BodyTooLarge()
            chunk = self.rfile.read(size)
            if len(chunk) != size:
                return None
            if total <= limit:
                chunks.append(chunk)
            self.rfile.readline(1024)  # the CRLF after the chunk
        while True:  # trailers, up to the empty line
            line = self.rfile.readline(1024)
            if not line or line in (b"\r\n", b"\n"):
                break
        if total > limit:
            raise _BodyTooLarge()
        return b"".join(chunks)

    def _discard_declared_body(self) -> None:
        """Reads and drops a refused body (up to _DISCARD_BYTES) before the connection closes.

        A client that sends all of its body before it reads the reply would
        otherwise see the connection reset instead of the 413.
        """
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return  # _read_chunked has read it
        try:
            left = min(int(self.headers.get("Content-Length") or 0), _DISCARD_BYTES)
        except ValueError:
            return
        with contextlib.suppress(OSError):
            self.connection.settimeout(5)
            while left > 0:
                chunk = self.rfile.read(min(left, 1 << 16))
                if not chunk:
                    break
                left -= len(chunk)

    def _drain_body(self) -> None:
        """Reads a small body so that the connection can serve the next request."""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower() or not 0 <= length <= 1 << 16:
            self.close_connection = True
        elif length:
            self.rfile.read(length)

    def _method_not_allowed(self, allow: str) -> None:
        self._error(405, "method_not_allowed", f"{urlsplit(self.path).path} takes {allow}", allow=allow)

    def _error(self, status: int, code: str, message: str, details: Any = None, allow: str = "") -> None:
        err: dict[str, Any] = {"code": code, "message": message}
        if details is not None:
            err["details"] = details
        try:
            body = _json.encode({"error": err})
        except (TypeError, ValueError):
            body = _json.encode({"error": {"code": code, "message": message}})
        self._send(status, body.encode("utf-8"), allow=allow)

    def _reply(self, status: int, value: Any) -> None:
        self._send(status, _json.encode(value).encode("utf-8"))

    def _send(self, status: int, body: bytes, allow: str = "") -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            if allow:
                self.send_header("Allow", allow)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
        except OSError:
            self.close_connection = True  # the client went away


class _Stop(BaseException):
    """Raised in the main thread by SIGTERM or SIGINT while setup runs."""


def serve(p: Plugin, host: str, port: int, *, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
          stop: threading.Event | None = None) -> int:
    """Runs a warm container's life and returns its exit code.

    It listens at once, so that /healthz answers 503 while setup runs; runs
    setup; answers calls until SIGTERM or SIGINT (or until stop is set);
    then finishes the calls in flight. A setup that fails ends the process
    with exit code 1 and the failure on the last line of stderr.
    """
    # Nothing but the protocol's replies should go anywhere else than the
    # log: a handler's print() becomes a log line.
    sys.stdout = sys.stderr
    stop = stop if stop is not None else threading.Event()
    try:
        server = Server(p, host, port, max_body_bytes=max_body_bytes)
    except OSError as e:
        print(f"orc_plugin: listen on {host}:{port}: {e}", file=sys.stderr)
        return EXIT_FAILED
    server.start()
    server.log(f"listening on http://{host}:{server.port} (protocol http)")

    in_setup = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()
        if in_setup.is_set():
            in_setup.clear()
            raise _Stop()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)

    begin = time.monotonic()
    in_setup.set()
    try:
        server.setup()
        in_setup.clear()
    except _Stop:
        server.log("stopped during setup")
        server.stop(grace=0)
        return EXIT_OK
    except PluginError as e:
        in_setup.clear()
        server.log(f"setup failed: {summary(e)}")
        server.stop(grace=0)
        print(f"setup failed: {summary(e)}", file=sys.stderr)
        return e.exec_exit_code()
    except Exception as e:
        in_setup.clear()
        tb = format_traceback(e)
        server.log(f"setup failed\n{tb}")
        server.stop(grace=0)
        print(f"setup failed: {summary(e)}", file=sys.stderr)
        return EXIT_FAILED
    server.log(f"ready in {time.monotonic() - begin:.3f}s")

    # The signal handlers run in this (the main) thread while it waits.
    while not stop.wait(3600):
        pass
    server.log("stopping: finishing the calls in flight")
    left = server.stop()
    if left:
        server.log(f"stopped with {left} calls still running")
        return EXIT_FAILED
    server.log("stopped")
    return EXIT_OK
