"""Tests of the http protocol: a Server on an ephemeral port, and a real warm process."""

import http.client
import io
import json
import signal
import threading
import time
import unittest

from _support import ServerProcess, last_line

from orc_plugin import Plugin, PluginError
from orc_plugin.http_protocol import Server


class Array:
    def __init__(self, *values):
        self.values = values

    def tolist(self):
        return list(self.values)


def make_plugin(setup_calls, setup_gate=None):
    """Returns a Plugin whose input's "fail" field chooses how it fails.

    When setup_gate is given, setup waits for it: the test sees the server
    before it is ready.
    """
    p = Plugin()

    @p.setup
    def load():
        if setup_gate is not None:
            setup_gate.wait(10)
        setup_calls.append(1)
        return {"scale": 2}

    @p.handler
    def handle(input, state):
        fail = input.get("fail") if isinstance(input, dict) else None
        if fail == "invalid":
            raise PluginError("invalid", "n must be positive", details={"pointer": "/n"})
        if fail == "code":
            raise PluginError("model_busy", "try again later")
        if fail == "value":
            raise ValueError("bad value")
        if fail == "nan":
            return {"score": float("nan")}
        if fail == "sleep":
            time.sleep(input["seconds"])
        if fail == "tolist":
            return {"p": Array(0.25, 0.75)}
        return {"double": input["n"] * state["scale"]}

    return p


class ServerTest(unittest.TestCase):
    """Each test gets a Server on 127.0.0.1:0, set up unless it says otherwise."""

    setup_server = True
    max_body_bytes = None

    def setUp(self):
        self.setup_calls = []
        self.gate = threading.Event()
        if self.setup_server:
            self.gate.set()
        self.log = io.StringIO()
        kwargs = {"max_body_bytes": self.max_body_bytes} if self.max_body_bytes else {}
        self.server = Server(make_plugin(self.setup_calls, self.gate), "127.0.0.1", 0, log=self.log, **kwargs)
        self.server.start()
        self.addCleanup(self.server.stop, 5)
        if self.setup_server:
            self.server.setup()

    def request(self, method, path, body=None, headers=None, conn=None):
        """Returns (status, decoded JSON body, headers) of one request."""
        own = conn is None
        conn = conn or http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
        try:
            if isinstance(body, (dict, list)):
                body = json.dumps(body)
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            self.assertEqual(resp.getheader("Content-Type"), "application/json")
            return resp.status, json.loads(data), resp
        finally:
            if own:
                conn.close()


class TestInvoke(ServerTest):
    def test_cases(self):
        cases = [
            # name, body, status, reply
            ("success", {"n": 21}, 200, {"double": 42}),
            ("numpy-like output", {"fail": "tolist"}, 200, {"p": [0.25, 0.75]}),
            ("bad JSON", '{"n":', 400,
             {"error": {"code": "invalid", "message": "decode input: Expecting value: line 1 column 6 (char 5)"}}),
            ("empty body", "", 400, {"error": {"code": "invalid", "message":
                                              "decode input: no input: pass JSON as the last argument or on stdin"}}),
            ("not UTF-8", b'"\xff"', 400, {"error": {"code": "invalid",
                                                     "message": "decode input: input is not UTF-8 (byte 1)"}}),
            ("invalid", {"fail": "invalid"}, 400,
             {"error": {"code": "invalid", "message": "n must be positive", "details": {"pointer": "/n"}}}),
            ("own code", {"fail": "code"}, 500, {"error": {"code": "model_busy", "message": "try again later"}}),
            ("exception", {"fail": "value"}, 500,
             {"error": {"code": "plugin_failed", "message": "ValueError: bad value"}}),
            ("handler bug", {"m": 1}, 500, {"error": {"code": "plugin_failed", "message": "KeyError: 'n'"}}),
            ("output not JSON", {"fail": "nan"}, 500, {"error": {"code": "plugin_failed", "message":
                                                                 "encode output: ValueError: Out of range float "
                                                                 "values are not JSON compliant"}}),
        ]
        for name, body, status, reply in cases:
            with self.subTest(name):
                got_status, got_reply, _ = self.request("POST", "/invoke", body)
                self.assertEqual((got_status, got_reply), (status, reply))

    def test_keeps_serving_after_failures(self):
        for body in ({"fail": "value"}, "{", {"fail": "code"}, {"fail": "invalid"}):
            self.request("POST", "/invoke", body)
        self.assertEqual(self.request("POST", "/invoke", {"n": 1})[:2], (200, {"double": 2}))
        self.assertEqual(self.request("GET", "/healthz")[:2], (200, {"status": "ok"}))

    def test_exception_is_logged_with_the_invocation(self):
        self.request("POST", "/invoke", {"fail": "value"}, headers={"X-Orc-Invocation-Id": "inv-42"})
        log = self.log.getvalue()
        self.assertIn("orc_plugin: invocation inv-42: handler failed\nTraceback (most recent call last)", log)
        self.assertTrue(log.rstrip().endswith("ValueError: bad value"), log)

    def test_invalid_input_is_not_logged(self):
        self.request("POST", "/invoke", {"fail": "invalid"})
        self.assertEqual(self.log.getvalue(), "")

    def test_setup_once(self):
        results = []

        def call(n):
            results.append(self.request("POST", "/invoke", {"n": n})[:2])

        threads = [threading.Thread(target=call, args=(n,)) for n in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(sorted(r[1]["double"] for r in results), [2 * n for n in range(10)])
        self.assertEqual(len(self.setup_calls), 1)

    def test_keep_alive(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
        self.addCleanup(conn.close)
        for n in range(3):
            status, reply, resp = self.request("POST", "/invoke", {"n": n}, conn=conn)
            self.assertEqual((status, reply), (200, {"double": 2 * n}))
            self.assertIsNone(resp.getheader("Connection"))
        # A failure does not close the connection either.
        self.assertEqual(self.request("POST", "/invoke", {"fail": "value"}, conn=conn)[0], 500)
        self.assertEqual(self.request("POST", "/invoke", {"n": 5}, conn=conn)[:2], (200, {"double": 10}))

    def test_no_delayed_ack_stall(self):
        # With Nagle's algorithm on, each reply on a kept-alive connection
        # waits for the client's delayed ACK: about 40 ms a call.
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
        self.addCleanup(conn.close)
        took = []
        for n in range(21):
            begin = time.perf_counter()
            self.request("POST", "/invoke", {"n": n}, conn=conn)
            took.append(time.perf_counter() - begin)
        self.assertLess(sorted(took)[10], 0.02, f"median call {sorted(took)[10] * 1000:.1f} ms")

    def test_chunked_body(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
        self.addCleanup(conn.close)
        conn.request("POST", "/invoke", body=iter([b'{"n"', b": 4}"]), encode_chunked=True,
                     headers={"Transfer-Encoding": "chunked"})
        resp = conn.getresponse()
        self.assertEqual((resp.status, json.loads(resp.read())), (200, {"double": 8}))

    def test_routes(self):
        cases = [
            ("GET", "/healthz", 200, {"status": "ok"}),
            ("GET", "/healthz?verbose=1", 200, {"status": "ok"}),
            ("GET", "/invoke", 405, {"error": {"code": "method_not_allowed", "message": "/invoke takes POST"}}),
            ("POST", "/healthz", 405, {"error": {"code": "method_not_allowed", "message": "/healthz takes GET"}}),
            ("PUT", "/invoke", 405, {"error": {"code": "method_not_allowed", "message": "/invoke takes POST"}}),
            ("GET", "/nope", 404, {"error": {"code": "not_found", "message":
                                             "no /nope: the plugin serves GET /healthz and POST /invoke"}}),
        ]
        for method, path, status, reply in cases:
            with self.subTest(f"{method} {path}"):
                self.assertEqual(self.request(method, path, "{}" if method != "GET" else None)[:2], (status, reply))


class TestBodyLimit(ServerTest):
    def test_default_limit_is_10_mib(self):
        self.assertEqual(self.server.max_body_bytes, 10 << 20)
        big = b'"' + b"x" * (10 << 20) + b'"'
        status, reply, resp = self.request("POST", "/invoke", big)
        self.assertEqual((status, reply["error"]["code"]), (413, "too_large"))
        self.assertEqual(resp.getheader("Connection"), "close")
        # The server still serves.
        self.assertEqual(self.request("POST", "/invoke", {"n": 1})[0], 200)


class TestSmallBodyLimit(ServerTest):
    max_body_bytes = 64

    def test_limit(self):
        self.assertEqual(self.request("POST", "/invoke", {"n": 1, "pad": "x" * 40})[0], 200)
        status, reply, _ = self.request("POST", "/invoke", {"n": 1, "pad": "x" * 60})
        self.assertEqual((status, reply),
                         (413, {"error": {"code": "too_large", "message": "the input is over 64 bytes"}}))

    def test_chunked_over_the_limit(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
        self.addCleanup(conn.close)
        conn.request("POST", "/invoke", body=iter([b"[" + b"1," * 40, b"1]"]), encode_chunked=True,
                     headers={"Transfer-Encoding": "chunked"})
        self.assertEqual(conn.getresponse().status, 413)


class TestLifecycle(ServerTest):
    setup_server = False

    def test_not_ready_until_setup(self):
        self.assertEqual(self.request("GET", "/healthz")[:2], (503, {"status": "starting"}))
        self.assertEqual(self.request("POST", "/invoke", {"n": 1})[:2],
                         (503, {"error": {"code": "unavailable", "message": "the plugin is starting"}}))
        self.assertEqual(self.setup_calls, [])
        done = threading.Thread(target=self.server.setup)
        done.start()
        self.gate.set()
        done.join()
        self.assertEqual(self.request("GET", "/healthz")[:2], (200, {"status": "ok"}))
        self.assertEqual(self.request("POST", "/invoke", {"n": 1})[:2], (200, {"double": 2}))

    def test_stop_finishes_calls_in_flight(self):
        self.gate.set()
        self.server.setup()
        results = []
        slow = {"fail": "sleep", "seconds": 0.5, "n": 3}
        caller = threading.Thread(target=lambda: results.append(self.request("POST", "/invoke", slow)[:2]))
        caller.start()
        time.sleep(0.2)  # the call is in the handler
        begin = time.monotonic()
        self.assertEqual(self.server.stop(), 0)
        self.assertGreater(time.monotonic() - begin, 0.1)
        caller.join()
        self.assertEqual(results, [(200, {"double": 6})])
        with self.assertRaises(OSError):
            self.request("GET", "/healthz")


class TestProcess(unittest.TestCase):
    """The demo plugin as a warm container runs it: ORC_PROTOCOL=http."""

    def start(self, **env):
        proc = ServerProcess(**env)
        self.addCleanup(proc.close)
        proc.wait_listening()
        return proc

    def request(self, proc, method, path, body=None):
        conn = http.client.HTTPConnection("127.0.0.1", proc.port, timeout=30)
        try:
            conn.request(method, path, body=json.dumps(body) if body is not None else None)
            resp = conn.getresponse()
            return resp.status, json.loads(resp.read())
        finally:
            conn.close()

    def wait_ready(self, proc, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.request(proc, "GET", "/healthz")[0] == 200:
                return
            time.sleep(0.05)
        self.fail("not ready in time:\n" + proc.stderr())

    def test_warm_container(self):
        proc = self.start(DEMO_SETUP_DELAY="0.5")
        self.assertEqual(self.request(proc, "GET", "/healthz"), (503, {"status": "starting"}))
        self.wait_ready(proc)
        first = self.request(proc, "POST", "/invoke", {"action": "state"})
        self.assertEqual(self.request(proc, "POST", "/invoke", {"action": "raise"}),
                         (500, {"error": {"code": "plugin_failed", "message": "ValueError: bad value second line"}}))
        self.assertEqual(self.request(proc, "POST", "/invoke", {"action": "invalid"}),
                         (400, {"error": {"code": "invalid", "message": "value must be positive",
                                          "details": {"field": "value"}}}))
        second = self.request(proc, "POST", "/invoke", {"action": "state"})
        # One process, one setup, however many calls.
        self.assertEqual(first, second)
        self.assertEqual(first[1]["setup_calls"], 1)
        self.assertEqual(first[1]["pid"], proc.proc.pid)

        proc.proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.proc.wait(timeout=10), 0)
        log = proc.stderr()
        # Prints and fd-1 writes are log lines; the traceback is logged.
        for line in ("setup running", "stray print from the handler", "handler failed", "orc_plugin: stopped"):
            self.assertIn(line, log)

    def test_sigterm_waits_for_the_call_in_flight(self):
        proc = self.start()
        self.wait_ready(proc)
        results = []
        caller = threading.Thread(
            target=lambda: results.append(self.request(proc, "POST", "/invoke", {"action": "sleep", "seconds": 1})))
        caller.start()
        time.sleep(0.3)
        proc.proc.send_signal(signal.SIGTERM)
        caller.join()
        self.assertEqual(results, [(200, {"slept": 1})])
        self.assertEqual(proc.proc.wait(timeout=10), 0)

    def test_sigterm_during_setup(self):
        proc = self.start(DEMO_SETUP_DELAY="30")
        proc.wait_for_line("setup running")
        begin = time.monotonic()
        proc.proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.proc.wait(timeout=10), 0)
        self.assertLess(time.monotonic() - begin, 5)

    def test_setup_failure_exits(self):
        proc = self.start(DEMO_SETUP_FAIL="1")
        self.assertEqual(proc.proc.wait(timeout=20), 1)
        log = proc.stderr()
        self.assertIn("Traceback (most recent call last)", log)
        self.assertEqual(last_line(log), "setup failed: RuntimeError: no model file")

    def test_bad_port(self):
        proc = ServerProcess(ORC_PORT="http")
        self.addCleanup(proc.close)
        self.assertEqual(proc.proc.wait(timeout=20), 2)
        self.assertEqual(last_line(proc.stderr()), "orc_plugin: ORC_PORT='http' is not a port number")


if __name__ == "__main__":
    unittest.main()
