"""The exec protocol: one process per invocation, JSON in by argv or stdin, one JSON line out.

Orc's worker starts a fresh container per invocation with the input JSON as
the last argument (as the seed's ``python main.py '<json>'``) and also on
stdin; inputs over 128 KiB come on stdin only. The output is the last line
of stdout that is a JSON value; stderr is the log; a non-zero exit is a
failure whose message, shown to the client, is the last line of stderr.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Sequence
from typing import IO

from . import _json
from ._plugin import Plugin
from .errors import EXIT_FAILED, EXIT_INVALID, EXIT_OK, PluginError, format_traceback, summary


def main(p: Plugin, args: Sequence[str], stdin: IO | None, stdout: IO[str], stderr: IO[str]) -> int:
    """Runs p once under the exec protocol and returns the exit code.

    The input is the last element of args (the arguments after the program
    name) or, when args is empty, all of stdin. While setup and the handler
    run, sys.stdout is stderr, so that their prints become log lines and the
    output stays the only line on stdout. plugin.run calls it with the
    process's arguments and streams; tests call it directly.
    """
    try:
        raw = _read_input(args, stdin, stderr)
    except OSError as e:
        return _fail(stderr, EXIT_INVALID, f"read input: {e}")
    if not raw.strip():
        return _fail(stderr, EXIT_INVALID, "read input: no input: pass JSON as the last argument or on stdin")
    try:
        value = _json.decode(raw)
    except ValueError as e:
        return _fail(stderr, EXIT_INVALID, f"decode input: {e}")

    with contextlib.redirect_stdout(stderr):
        try:
            p.load()
        except PluginError as e:
            return _fail(stderr, e.exec_exit_code(), "setup failed: " + summary(e))
        except Exception as e:
            return _fail_with_traceback(stderr, e, "setup failed: ")
        try:
            out = p.invoke(value)
        except PluginError as e:
            return _fail(stderr, e.exec_exit_code(), summary(e))
        except Exception as e:
            return _fail_with_traceback(stderr, e)

    try:
        line = _json.encode(out)
    except (TypeError, ValueError, RecursionError) as e:
        return _fail(stderr, EXIT_FAILED, f"encode output: {summary(e)}")
    try:
        stdout.write(line + "\n")
        stdout.flush()
    except (OSError, ValueError) as e:
        return _fail(stderr, EXIT_FAILED, f"write output: {e}")
    return EXIT_OK


def run_process(p: Plugin) -> int:
    """Runs main with the process's arguments and streams.

    File descriptor 1 is pointed at stderr for the whole run, and the output
    is written to a private copy of the original stdout: so not even a C
    library or a child process that writes to fd 1 can add a line after the
    output.
    """
    stdout = _claim_stdout()
    _stop_on_signals()
    try:
        return main(p, sys.argv[1:], sys.stdin, stdout, sys.stderr)
    except _Terminated as e:
        return _fail(sys.stderr, 128 + e.signum, f"terminated by {signal.Signals(e.signum).name}")
    finally:
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        with contextlib.suppress(Exception):
            stdout.close()


class _Terminated(BaseException):
    """Raised in the main thread by SIGTERM: the worker cancels or times out the call."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _stop_on_signals() -> None:
    """Makes SIGTERM end the run at once.

    As the container's process 1, Python would otherwise ignore SIGTERM
    (the kernel drops signals that process 1 has no handler for) and
    `docker stop` would wait for its SIGKILL.
    """
    def on_signal(signum: int, frame: object) -> None:
        raise _Terminated(signum)

    with contextlib.suppress(ValueError):  # not in the main thread
        signal.signal(signal.SIGTERM, on_signal)


def _claim_stdout() -> IO[str]:
    """Returns a stream for the output, with fd 1 and sys.stdout sent to stderr."""
    try:
        sys.stdout.flush()
        fd = os.dup(1)
        os.dup2(2, 1)
    except (OSError, AttributeError, ValueError):
        return sys.stdout  # no usable fd 1 (embedded or tests): keep what there is
    sys.stdout = sys.stderr
    return open(fd, "w", encoding="utf-8", newline="\n", closefd=True)


def _read_input(args: Sequence[str], stdin: IO | None, stderr: IO[str]) -> bytes | str:
    if args:
        arg = args[-1]
        try:
            # Arguments that were not UTF-8 arrive with surrogate escapes.
            arg.encode("utf-8")
        except UnicodeEncodeError:
            raise OSError("the argument is not UTF-8") from None
        return arg
    if stdin is None:
        return ""
    with contextlib.suppress(Exception):
        if stdin.isatty():
            print("orc_plugin: reading the input JSON from stdin (end it with Ctrl-D)", file=stderr, flush=True)
    buf = getattr(stdin, "buffer", None)
    try:
        return buf.read() if buf is not None else stdin.read()
    except (OSError, ValueError) as e:
        raise OSError(f"stdin: {e}") from None


def _fail(stderr: IO[str], code: int, msg: str) -> int:
    """Writes msg to stderr as its last line and returns code."""
    msg = msg.rstrip("\n") or "failed"
    with contextlib.suppress(Exception):
        stderr.write(msg + "\n")
        stderr.flush()
    return code


def _fail_with_traceback(stderr: IO[str], exc: BaseException, prefix: str = "") -> int:
    """Writes exc's traceback to stderr, then its one-line summary, and returns EXIT_FAILED.

    The summary is written again after the traceback unless the traceback
    already ends with it (it does for most exceptions): a multi-line message
    or a chained exception would otherwise leave something else last.
    """
    tb = format_traceback(exc)
    last = prefix + summary(exc)
    with contextlib.suppress(Exception):
        stderr.write(tb + "\n")
        if tb.rsplit("\n", 1)[-1] != last:
            stderr.write(last + "\n")
        stderr.flush()
    return EXIT_FAILED
