"""Helpers shared by the SDK's tests: imports from this tree, child processes."""

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

SDK_DIR = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
DEMO = FIXTURES / "demo_plugin.py"

# The tests test this tree's orc_plugin, installed or not.
if str(SDK_DIR) not in sys.path:
    sys.path.insert(0, str(SDK_DIR))


def child_env(**extra: str) -> dict:
    """Returns an environment for a plugin process that imports this tree's SDK."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ORC_", "DEMO_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(SDK_DIR), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra)
    return env


def last_line(text: str) -> str:
    lines = text.rstrip("\n").split("\n")
    return lines[-1] if lines else ""


class ServerProcess:
    """ServerProcess is the demo plugin running under the http protocol in a child process.

    Its stderr is collected by a thread; the port is read from the SDK's
    "listening on" line.
    """

    def __init__(self, **env: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(DEMO)],
            env=child_env(**{"ORC_PROTOCOL": "http", "ORC_PORT": "0", **env}),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.port = 0

    def _read(self) -> None:
        for line in self.proc.stderr:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_for_line(self, pattern: str, timeout: float = 20) -> re.Match:
        """Returns the match of the first stderr line that matches pattern."""
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        with self._changed:
            while True:
                for line in self.lines:
                    m = regex.search(line)
                    if m:
                        return m
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    raise AssertionError(f"no stderr line matches {pattern!r}; stderr:\n" + "\n".join(self.lines))
                self._changed.wait(min(left, 0.2))

    def wait_listening(self) -> int:
        self.port = int(self.wait_for_line(r"listening on http://[^:]+:(\d+)").group(1))
        return self.port

    def stderr(self) -> str:
        self._reader.join(timeout=10)
        return "\n".join(self.lines)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        self.proc.stdout.close()
        self._reader.join(timeout=10)
        self.proc.stderr.close()
