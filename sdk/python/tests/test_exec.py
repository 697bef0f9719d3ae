"""Tests of the exec protocol, in-process (exec_protocol.main) and as a real process."""

import io
import signal
import subprocess
import sys
import unittest

from _support import DEMO, child_env, last_line

from orc_plugin import Plugin, PluginError, exec_protocol


class Array:
    def __init__(self, *values):
        self.values = values

    def tolist(self):
        return list(self.values)


def make_plugin(setup_calls):
    """Returns a Plugin whose input's "fail" field chooses how it fails."""
    p = Plugin()

    @p.setup
    def load():
        setup_calls.append(1)
        print("loading the model")  # must become a log line
        return {"scale": 2}

    @p.handler
    def handle(input, state):
        print("handling")  # must become a log line
        fail = input.get("fail") if isinstance(input, dict) else None
        if fail == "invalid":
            raise PluginError("invalid", "text is not a sentence")
        if fail == "code":
            raise PluginError("model_busy", "try again later")
        if fail == "exit":
            raise PluginError("plugin_failed", "chose my exit", exit_code=42)
        if fail == "value":
            raise ValueError("bad value\non two lines")
        if fail == "key":
            return {}["features"]
        if fail == "chained":
            try:
                {}["x"]
            except KeyError as e:
                raise RuntimeError("lookup failed") from e
        if fail == "nan":
            return {"score": float("nan")}
        if fail == "tolist":
            return {"probabilities": Array(0.5, 0.5)}
        return {"double": input["n"] * state["scale"]}

    return p


def stdin_of(data: bytes) -> io.TextIOWrapper:
    return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")


class TestMain(unittest.TestCase):
    def run_main(self, args, stdin=None, p=None):
        p = p or make_plugin([])
        stdout, stderr = io.StringIO(), io.StringIO()
        code = exec_protocol.main(p, args, stdin, stdout, stderr)
        return code, stdout.getvalue(), stderr.getvalue()

    def test_cases(self):
        cases = [
            # name, args, stdin, exit code, stdout, last line of stderr
            ("input as last arg", ['{"n": 2}'], None, 0, '{"double":4}\n', "handling"),
            ("only the last arg is input", ["--verbose", '{"n": 1}'], stdin_of(b'{"n": 9}'), 0,
             '{"double":2}\n', "handling"),
            ("input on stdin", [], stdin_of(b' {"n":\n 3}\n'), 0, '{"double":6}\n', "handling"),
            ("no input", [], stdin_of(b" \n"), 2, "",
             "read input: no input: pass JSON as the last argument or on stdin"),
            ("no stdin", [], None, 2, "", "read input: no input: pass JSON as the last argument or on stdin"),
            ("stdin not utf-8", [], stdin_of(b'"\xff"'), 2, "", "decode input: input is not UTF-8 (byte 1)"),
            ("malformed JSON", ['{"n":'], None, 2, "",
             "decode input: Expecting value: line 1 column 6 (char 5)"),
            ("NaN is not JSON", ['{"n": NaN}'], None, 2, "", "decode input: NaN is not valid JSON"),
            ("invalid", ['{"fail": "invalid"}'], None, 2, "", "text is not a sentence"),
            ("own code", ['{"fail": "code"}'], None, 1, "", "try again later"),
            ("own exit code", ['{"fail": "exit"}'], None, 42, "", "chose my exit"),
            ("exception", ['{"fail": "value"}'], None, 1, "", "ValueError: bad value on two lines"),
            ("key error", ['{"fail": "key"}'], None, 1, "", "KeyError: 'features'"),
            ("chained exception", ['{"fail": "chained"}'], None, 1, "", "RuntimeError: lookup failed"),
            ("handler bug", ['{"m": 1}'], None, 1, "", "KeyError: 'n'"),
            ("output not JSON", ['{"fail": "nan"}'], None, 1, "",
             "encode output: ValueError: Out of range float values are not JSON compliant"),
            ("numpy-like output", ['{"fail": "tolist"}'], None, 0, '{"probabilities":[0.5,0.5]}\n', "handling"),
        ]
        for name, args, stdin, code, stdout, stderr_last in cases:
            with self.subTest(name):
                got_code, got_stdout, got_stderr = self.run_main(args, stdin)
                self.assertEqual(got_code, code, got_stderr)
                self.assertEqual(got_stdout, stdout)
                self.assertEqual(last_line(got_stderr), stderr_last)

    def test_exception_keeps_the_traceback(self):
        _, _, stderr = self.run_main(['{"fail": "value"}'])
        self.assertIn("Traceback (most recent call last)", stderr)
        self.assertIn('raise ValueError("bad value\\non two lines")', stderr)

    def test_plugin_error_has_no_traceback(self):
        _, _, stderr = self.run_main(['{"fail": "invalid"}'])
        self.assertNotIn("Traceback", stderr)

    def test_prints_go_to_stderr(self):
        code, stdout, stderr = self.run_main(['{"n": 1}'])
        self.assertEqual(code, 0)
        self.assertEqual(stdout, '{"double":2}\n')
        self.assertEqual(stderr, "loading the model\nhandling\n")

    def test_setup_once_per_process(self):
        calls = []
        p = make_plugin(calls)
        for n in range(3):
            self.assertEqual(self.run_main([f'{{"n": {n}}}'], p=p)[0], 0)
        self.assertEqual(len(calls), 1)

    def test_bad_input_skips_setup(self):
        calls = []
        self.assertEqual(self.run_main(["{"], p=make_plugin(calls))[0], 2)
        self.assertEqual(calls, [])

    def test_setup_fails(self):
        p = Plugin()

        @p.setup
        def load():
            raise FileNotFoundError(2, "No such file or directory", "/app/model.joblib")

        p.handler(lambda input, state: state)
        code, stdout, stderr = self.run_main(["{}"], p=p)
        self.assertEqual(code, 1)
        self.assertEqual(stdout, "")
        self.assertIn("Traceback", stderr)
        self.assertEqual(last_line(stderr),
                         "setup failed: FileNotFoundError: [Errno 2] No such file or directory: '/app/model.joblib'")

    def test_setup_plugin_error(self):
        p = Plugin()

        @p.setup
        def load():
            raise PluginError("unavailable", "the GPU is busy", exit_code=75)

        p.handler(lambda input: input)
        code, _, stderr = self.run_main(["{}"], p=p)
        self.assertEqual((code, last_line(stderr)), (75, "setup failed: the GPU is busy"))


class TestProcess(unittest.TestCase):
    """The demo plugin run as the worker runs it: a fresh process per call."""

    def run_demo(self, *args, stdin=b"", **env):
        return subprocess.run([sys.executable, str(DEMO), *args], input=stdin, capture_output=True,
                              env=child_env(**env), timeout=60)

    def test_success(self):
        r = self.run_demo('{"action": "echo", "value": [1, "é"]}', stdin=b'{"action": "ignored"}')
        err = r.stderr.decode()
        self.assertEqual(r.returncode, 0, err)
        # Only the output is on stdout: prints and raw writes to fd 1 are logs.
        self.assertEqual(r.stdout, '{"echo":[1,"é"],"model":"demo"}\n'.encode())
        for line in ("setup running", "stray print from the handler", "raw write to fd 1"):
            self.assertIn(line, err)

    def test_stdin(self):
        r = self.run_demo(stdin=b'{"action": "echo", "value": 7}')
        self.assertEqual((r.returncode, r.stdout), (0, b'{"echo":7,"model":"demo"}\n'), r.stderr)

    def test_exec_is_the_default_and_explicit(self):
        for protocol in ("", "exec"):
            with self.subTest(protocol=protocol):
                r = self.run_demo('{"action": "echo", "value": 1}', ORC_PROTOCOL=protocol)
                self.assertEqual(r.returncode, 0, r.stderr)

    def test_failures(self):
        cases = [
            ("bad JSON", '{"action": ', 2, "decode input: Expecting value: line 1 column 12 (char 11)"),
            ("invalid", '{"action": "invalid"}', 2, "value must be positive"),
            ("exception", '{"action": "raise"}', 1, "ValueError: bad value second line"),
        ]
        for name, arg, code, last in cases:
            with self.subTest(name):
                r = self.run_demo(arg)
                self.assertEqual(r.returncode, code, r.stderr)
                self.assertEqual(r.stdout, b"")
                self.assertEqual(last_line(r.stderr.decode()), last)

    def test_setup_failure(self):
        r = self.run_demo('{"action": "echo"}', DEMO_SETUP_FAIL="1")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(last_line(r.stderr.decode()), "setup failed: RuntimeError: no model file")

    def test_sigterm_ends_the_run(self):
        proc = subprocess.Popen([sys.executable, str(DEMO), '{"action": "sleep", "seconds": 30}'],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=child_env())
        self.addCleanup(proc.kill)
        # Wait until the handler runs, then stop it as `docker stop` would.
        proc.stderr.readline()  # setup running
        proc.stderr.readline()  # stray print from the handler
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=10)
        self.assertEqual((proc.returncode, stdout), (143, b""))
        self.assertEqual(last_line(stderr.decode()), "terminated by SIGTERM")

    def test_unknown_protocol(self):
        r = self.run_demo("{}", ORC_PROTOCOL="grpc")
        self.assertEqual(r.returncode, 2)
        self.assertEqual(last_line(r.stderr.decode()), "orc_plugin: protocol 'grpc' is not supported (exec or http)")


if __name__ == "__main__":
    unittest.main()
