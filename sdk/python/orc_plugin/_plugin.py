"""The Plugin object: one handler, an optional setup, and the protocol switch."""

from __future__ import annotations

import inspect
import os
import sys
import threading
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

from .errors import EXIT_INVALID

#: The environment variable that selects the protocol: exec (the default) or http.
PROTOCOL_ENV = "ORC_PROTOCOL"
#: The environment variable with the http protocol's port (default 8080).
PORT_ENV = "ORC_PORT"
DEFAULT_PORT = 8080
#: The largest request body the http protocol reads; larger ones get 413.
DEFAULT_MAX_BODY_BYTES = 10 << 20


class Plugin:
    """Plugin holds a plugin's handler and its one-time setup.

    Most plugins use the module's ``plugin`` object::

        from orc_plugin import plugin, PluginError

        @plugin.setup
        def load():
            return joblib.load("/app/model.joblib")

        @plugin.handler
        def predict(input, model):
            return {"class": ...}

        if __name__ == "__main__":
            plugin.run()

    The handler takes the decoded input JSON and, when it has a second
    positional parameter, the value setup returned (None without a setup).
    It returns anything JSON can encode (numpy arrays and scalars included).
    Raising PluginError chooses the failure's code; any other exception is
    a failure of the plugin (code ``plugin_failed``).

    Setup runs once per process, before the first call: under the exec
    protocol that is once per invocation; under the http protocol it is
    once per warm container, before /healthz answers 200.

    # Notes

    Under the http protocol the handler may be called from several threads
    at once when the plugin version's ``concurrency`` is above 1; the state
    is shared between them.
    """

    def __init__(self) -> None:
        self._handler: Callable[..., Any] | None = None
        self._pass_state = False
        self._setup: Callable[[], Any] | None = None
        self._state: Any = None
        self._loaded = False
        self._lock = threading.Lock()

    def handler(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Registers fn as the handler and returns it unchanged (a decorator).

        Raises TypeError when fn cannot take the input, and RuntimeError when
        another function is already the handler.
        """
        pass_state = _takes_state(fn, "handler")
        if self._handler is not None and _name(self._handler) != _name(fn):
            raise RuntimeError(f"orc_plugin: {_name(self._handler)} is already the handler; a plugin has one")
        self._handler, self._pass_state = fn, pass_state
        return fn

    def setup(self, fn: Callable[[], Any]) -> Callable[[], Any]:
        """Registers fn as the one-time setup and returns it unchanged (a decorator).

        fn takes no arguments; what it returns is the handler's state.
        """
        if not callable(fn):
            raise TypeError("orc_plugin: setup must be a function")
        if inspect.iscoroutinefunction(fn):
            raise TypeError("orc_plugin: setup must be a plain function, not async")
        if self._setup is not None and _name(self._setup) != _name(fn):
            raise RuntimeError(f"orc_plugin: {_name(self._setup)} is already the setup; a plugin has one")
        self._setup = fn
        return fn

    @property
    def loaded(self) -> bool:
        """Whether setup has run (or there is none and load was called)."""
        return self._loaded

    def load(self) -> Any:
        """Runs setup unless it has run, and returns the state.

        Concurrent callers wait for the one that runs it. When setup raises,
        the exception propagates and the next call runs setup again.
        """
        if self._loaded:
            return self._state
        with self._lock:
            if not self._loaded:
                self._state = self._setup() if self._setup is not None else None
                self._loaded = True
        return self._state

    def invoke(self, value: Any) -> Any:
        """Calls the handler on one decoded input, running setup first if needed.

        It is what both protocols call, and what a plugin's own tests call to
        run the handler in-process. Exceptions propagate.
        """
        if self._handler is None:
            raise RuntimeError("orc_plugin: no handler: decorate a function with @plugin.handler")
        state = self.load()
        if self._pass_state:
            return self._handler(value, state)
        return self._handler(value)

    def run(self, *, protocol: str | None = None, port: int | None = None, host: str = "0.0.0.0",
            max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> NoReturn:
        """Runs the plugin under the protocol the worker asked for and exits.

        The protocol is ORC_PROTOCOL (``exec`` when unset) unless given:

        - exec: reads one input (the last argument, or stdin when there is
          none), writes one JSON line to stdout and exits: 0 on success, 2
          for input that is not JSON or a PluginError("invalid", ...), 1
          (or the PluginError's exit_code) for any other failure, with the
          message on the last line of stderr.
        - http: serves GET /healthz and POST /invoke on host:ORC_PORT
          (default 8080) until SIGTERM or SIGINT, then exits 0 once the
          calls in flight have finished.
        """
        sys.exit(self.main(protocol=protocol, port=port, host=host, max_body_bytes=max_body_bytes))

    def main(self, *, protocol: str | None = None, port: int | None = None, host: str = "0.0.0.0",
             max_body_bytes: int = DEFAULT_MAX_BODY_BYTES, environ: Mapping[str, str] | None = None) -> int:
        """Is run without the exit: it returns the process's exit code."""
        # Imported here: each protocol module imports this one.
        from . import exec_protocol, http_protocol

        env = os.environ if environ is None else environ
        if protocol is None:
            protocol = env.get(PROTOCOL_ENV, "") or "exec"
        if protocol == "exec":
            return exec_protocol.run_process(self)
        if protocol == "http":
            if port is None:
                raw = env.get(PORT_ENV, "") or str(DEFAULT_PORT)
                try:
                    port = int(raw)
                except ValueError:
                    port = -1
                if not 0 <= port <= 65535:
                    print(f"orc_plugin: {PORT_ENV}={raw!r} is not a port number", file=sys.stderr)
                    return EXIT_INVALID
            return http_protocol.serve(self, host, port, max_body_bytes=max_body_bytes)
        print(f"orc_plugin: protocol {protocol!r} is not supported (exec or http)", file=sys.stderr)
        return EXIT_INVALID


def _takes_state(fn: Callable[..., Any], what: str) -> bool:
    """Returns whether fn takes a second positional parameter, the state."""
    if not callable(fn):
        raise TypeError(f"orc_plugin: {what} must be a function")
    if inspect.iscoroutinefunction(fn):
        raise TypeError(f"orc_plugin: {what} must be a plain function, not async")
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return False  # a builtin without a signature: give it the input only
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return True
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = [p for p in positional if p.default is p.empty]
    keyword_only = [p for p in params if p.kind is p.KEYWORD_ONLY and p.default is p.empty]
    if not positional or len(required) > 2 or keyword_only:
        raise TypeError(f"orc_plugin: {what} {_name(fn)} must take (input) or (input, state)")
    return len(positional) >= 2


def _name(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__qualname__", None) or repr(fn)


#: plugin is the process's Plugin: decorate the handler with @plugin.handler.
plugin = Plugin()
