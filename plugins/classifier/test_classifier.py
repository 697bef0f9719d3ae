"""Tests of the classifier plugin's image, run as Orc's worker runs it.

They need the Docker engine and the image (plugins/classifier/build.sh):

    python3 -m unittest discover -s plugins/classifier -p 'test_*.py' -v

Every container runs with the worker's hardening: read-only root with a
tmpfs /tmp, all capabilities dropped, no-new-privileges, user nobody,
memory and pids limits, and no network under the exec protocol.
"""

import http.client
import json
import math
import pathlib
import subprocess
import time
import unittest

PLUGIN_DIR = pathlib.Path(__file__).resolve().parent
MANIFEST = json.loads((PLUGIN_DIR / "plugin.json").read_text())
IMAGE = MANIFEST["docker_image"]
CLASSES = ["setosa", "versicolor", "virginica"]

# The worker's container settings (runtime/docker/container.go).
HARDENING = [
    "--read-only", "--tmpfs", "/tmp:rw,noexec,nosuid,nodev,size=64m",
    "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
    "--user", "65534:65534",
    "--memory", f"{MANIFEST['resources']['memory_mb']}m", "--memory-swap", f"{MANIFEST['resources']['memory_mb']}m",
    "--pids-limit", "256", "--cpus", "1",
    "--env", "HOME=/tmp",
]

# One sample of each species from the iris dataset.
KNOWN = [
    ([5.1, 3.5, 1.4, 0.2], "setosa"),
    ([5.9, 3.0, 4.2, 1.5], "versicolor"),
    ([6.7, 3.0, 5.2, 2.3], "virginica"),
]

USAGE = ('give "features": [sepal length, sepal width, petal length, petal width] in cm, '
         'or "samples": a list of such lists')

BAD_INPUTS = [
    # name, input JSON, message
    ("missing features", '{}', f"features is missing: {USAGE}"),
    ("misspelt field", '{"feature": [1, 2, 3, 4]}', f'unknown field "feature": {USAGE}'),
    ("not an object", '[5.1, 3.5, 1.4, 0.2]', f"input must be an object: {USAGE}"),
    ("three numbers", '{"features": [5.1, 3.5, 1.4]}',
     "features must have 4 numbers (sepal length, sepal width, petal length, petal width), not 3"),
    ("a string", '{"features": [5.1, "3.5", 1.4, 0.2]}', 'features[1] must be a number, not "3.5"'),
    ("a boolean", '{"features": [5.1, 3.5, true, 0.2]}', "features[2] must be a number, not true"),
    ("both", '{"features": [1, 2, 3, 4], "samples": [[1, 2, 3, 4]]}', 'give either "features" or "samples", not both'),
    ("empty samples", '{"samples": []}', "samples must be a non-empty list of feature lists"),
    ("bad sample", '{"samples": [[1, 2, 3, 4], [1, 2]]}',
     "samples[1] must have 4 numbers (sepal length, sepal width, petal length, petal width), not 2"),
]


def docker(*args, input=None, timeout=120, check=True):
    return subprocess.run(["docker", *args], input=input, capture_output=True, text=True, timeout=timeout,
                          check=check)


def require_image(test):
    """Fails (never skips: a missing image in CI is a broken build) without docker or the image."""
    try:
        docker("image", "inspect", IMAGE, timeout=30)
    except (OSError, subprocess.CalledProcessError) as e:
        raise AssertionError(f"no image {IMAGE} ({e}): build it with plugins/classifier/build.sh") from None


def last_line(text):
    return text.rstrip("\n").rsplit("\n", 1)[-1]


class Checks:
    def assert_prediction(self, out, want):
        self.assertEqual(set(out), {"class", "class_index", "probabilities"})
        self.assertEqual(out["class"], want)
        self.assertEqual(out["class_index"], CLASSES.index(want))
        probs = out["probabilities"]
        self.assertEqual(list(probs), CLASSES)
        self.assertTrue(all(0 <= p <= 1 for p in probs.values()), probs)
        self.assertTrue(math.isclose(sum(probs.values()), 1, abs_tol=1e-4), probs)
        self.assertEqual(max(probs, key=probs.get), want)


class TestExec(unittest.TestCase, Checks):
    """A fresh container per call, input as the last argument: the exec protocol."""

    @classmethod
    def setUpClass(cls):
        require_image(cls)

    def run_plugin(self, *args, stdin=""):
        return docker("run", "--rm", "-i", *HARDENING, "--network", "none", "--env", "ORC_PROTOCOL=exec",
                      IMAGE, *args, input=stdin, check=False)

    def test_known_samples(self):
        for features, want in KNOWN:
            with self.subTest(want):
                r = self.run_plugin(json.dumps({"features": features}))
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(r.stdout.count("\n"), 1, r.stdout)  # the output is the only line
                self.assert_prediction(json.loads(r.stdout), want)
                self.assertIn("classifier: model loaded from /app/model.joblib", r.stderr)

    def test_input_on_stdin(self):
        r = self.run_plugin(stdin=json.dumps({"features": KNOWN[0][0]}))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assert_prediction(json.loads(r.stdout), KNOWN[0][1])

    def test_batch(self):
        r = self.run_plugin(json.dumps({"samples": [features for features, _ in KNOWN]}))
        self.assertEqual(r.returncode, 0, r.stderr)
        out = json.loads(r.stdout)
        self.assertEqual(list(out), ["predictions"])
        self.assertEqual(len(out["predictions"]), len(KNOWN))
        for got, (_, want) in zip(out["predictions"], KNOWN, strict=True):
            self.assert_prediction(got, want)

    def test_bad_input(self):
        # Exit 2, and the message on the last line of stderr: the worker's
        # 4xx-worthy failure with the text the client sees.
        for name, arg, message in BAD_INPUTS[:4]:
            with self.subTest(name):
                r = self.run_plugin(arg)
                self.assertEqual((r.returncode, r.stdout), (2, ""), r.stderr)
                self.assertEqual(last_line(r.stderr), message)

    def test_not_json(self):
        r = self.run_plugin('{"features": [5.1, 3.5,')
        self.assertEqual((r.returncode, r.stdout), (2, ""), r.stderr)
        self.assertEqual(last_line(r.stderr), "decode input: Expecting value: line 1 column 24 (char 23)")


class TestHTTP(unittest.TestCase, Checks):
    """One warm container serving many calls: the http protocol."""

    @classmethod
    def setUpClass(cls):
        require_image(cls)
        cls.container = cls.start()
        cls.port = cls.wait_ready(cls.container)

    @classmethod
    def tearDownClass(cls):
        docker("rm", "-f", cls.container, check=False)

    @classmethod
    def start(cls):
        # The worker reaches warm containers over a network; here a port
        # published on the loopback stands in for it.
        return docker("run", "-d", *HARDENING, "--env", "ORC_PROTOCOL=http",
                      "--publish", "127.0.0.1::8080", IMAGE).stdout.strip()

    @classmethod
    def wait_ready(cls, container, timeout=60):
        port = int(docker("port", container, "8080/tcp").stdout.split("\n")[0].rsplit(":", 1)[1])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if call(port, "GET", "/healthz")[0] == 200:
                    return port
            except (OSError, http.client.HTTPException):
                pass
            time.sleep(0.1)
        raise AssertionError("not ready in time; logs:\n" + logs(container))

    def test_model_loaded_once(self):
        for features, want in KNOWN + KNOWN:
            status, out = call(self.port, "POST", "/invoke", {"features": features})
            self.assertEqual(status, 200, out)
            self.assert_prediction(out, want)
        self.assertEqual(logs(self.container).count("classifier: model loaded"), 1, logs(self.container))

    def test_bad_input_keeps_serving(self):
        for name, arg, message in BAD_INPUTS:
            with self.subTest(name):
                self.assertEqual(call(self.port, "POST", "/invoke", arg),
                                 (400, {"error": {"code": "invalid", "message": message}}))
        self.assertEqual(call(self.port, "POST", "/invoke", "{")[0], 400)
        status, out = call(self.port, "POST", "/invoke", {"features": KNOWN[2][0]})
        self.assertEqual(status, 200, out)
        self.assert_prediction(out, KNOWN[2][1])

    def test_warm_calls_are_fast(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        self.addCleanup(conn.close)
        took = []
        for _ in range(21):
            begin = time.perf_counter()
            conn.request("POST", "/invoke", body=json.dumps({"features": KNOWN[1][0]}))
            resp = conn.getresponse()
            resp.read()
            took.append(time.perf_counter() - begin)
            self.assertEqual(resp.status, 200)
        # Far below a cold start (about a second): the model stays loaded.
        self.assertLess(sorted(took)[10], 0.05, f"median warm call {sorted(took)[10] * 1000:.1f} ms")

    def test_stop_is_graceful(self):
        container = self.start()
        self.addCleanup(docker, "rm", "-f", container, check=False)
        self.wait_ready(container)
        begin = time.monotonic()
        docker("stop", "--time", "10", container)
        self.assertLess(time.monotonic() - begin, 5, "SIGTERM was not handled; docker stop waited for SIGKILL")
        self.assertEqual(docker("inspect", "-f", "{{.State.ExitCode}}", container).stdout.strip(), "0")
        self.assertIn("orc_plugin: stopped", logs(container))


def call(port, method, path, body=None):
    """Returns the status and decoded JSON reply of one request to a container."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        if body is not None and not isinstance(body, str):
            body = json.dumps(body)
        conn.request(method, path, body=body)
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def logs(container):
    r = docker("logs", container, check=False)
    return r.stdout + r.stderr


if __name__ == "__main__":
    unittest.main()
