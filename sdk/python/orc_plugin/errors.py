"""Errors a plugin raises to choose how its failure is reported."""

from __future__ import annotations

import os
import traceback
from typing import Any

#: The input is wrong: the caller, not the plugin, must change something.
#: Under the exec protocol it exits with EXIT_INVALID; under http it is 400.
CODE_INVALID = "invalid"
#: Any other failure of the plugin, and the code of exceptions that are not
#: a PluginError. Under the exec protocol it exits with EXIT_FAILED; under
#: http it is 500.
CODE_FAILED = "plugin_failed"

#: Exit codes of the exec protocol.
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INVALID = 2


class PluginError(Exception):
    """PluginError is a plugin failure with a code, reported without a traceback.

    ``PluginError("invalid", "features must have 4 numbers")`` tells the
    caller that its input is wrong. Any other code is a failure of the plugin
    (``"plugin_failed"`` is the usual one).

    Under the exec protocol the message is the last line of stderr (the
    client's error message) and the exit code is ``exit_code`` when given,
    else 2 for ``"invalid"`` and 1 for any other code. Under the http
    protocol the reply is ``{"error": {"code", "message", "details"}}`` with
    status 400 for ``"invalid"`` and 500 for any other code.
    """

    def __init__(self, code: str, message: str, *, exit_code: int = 0, details: Any = None) -> None:
        if not isinstance(code, str) or not code:
            raise TypeError("PluginError: code must be a non-empty string such as 'invalid'")
        super().__init__(message)
        self.code = code
        self.message = str(message)
        self.exit_code = exit_code
        self.details = details

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"PluginError({self.code!r}, {self.message!r})"

    def exec_exit_code(self) -> int:
        """Returns the exit code of this error under the exec protocol."""
        if 0 < self.exit_code < 256:
            return self.exit_code
        return EXIT_INVALID if self.code == CODE_INVALID else EXIT_FAILED

    def http_status(self) -> int:
        """Returns the HTTP status of this error under the http protocol."""
        return 400 if self.code == CODE_INVALID else 500


def summary(exc: BaseException) -> str:
    """Returns the one-line ``ExceptionType: message`` of an exception.

    The worker shows the client the last line of stderr, so the message must
    fit on one line whatever the exception's text holds.
    """
    if isinstance(exc, PluginError):
        text = exc.message
        name = ""
    else:
        text = str(exc)
        name = type(exc).__qualname__
    text = " ".join(line.strip() for line in text.splitlines() if line.strip())
    if not name:
        return text or exc.code
    return f"{name}: {text}" if text else name


_SDK_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def format_traceback(exc: BaseException) -> str:
    """Returns exc's traceback without the SDK's own frames at its top.

    The author's handler is the first frame shown; the last line is
    Python's usual ``ExceptionType: message``.
    """
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith(_SDK_DIR):
        tb = tb.tb_next
    if tb is None:
        tb = exc.__traceback__
    return "".join(traceback.format_exception(type(exc), exc, tb)).rstrip("\n")
