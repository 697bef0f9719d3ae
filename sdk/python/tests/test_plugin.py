"""Tests of the Plugin object: decorators, state, setup once, JSON rules."""

import threading
import time
import unittest

import _support  # noqa: F401  (puts this tree's SDK on sys.path)

from orc_plugin import CODE_FAILED, CODE_INVALID, Plugin, PluginError
from orc_plugin import _json
from orc_plugin.errors import summary


class Array:
    """Array stands in for a numpy array: it has tolist()."""

    def __init__(self, *values):
        self.values = values

    def tolist(self):
        return list(self.values)


class TestDecorators(unittest.TestCase):
    def test_handler_with_state(self):
        p = Plugin()

        @p.setup
        def load():
            return {"model": 42}

        @p.handler
        def predict(input, state):
            return {"sum": input["a"] + state["model"]}

        self.assertEqual(p.invoke({"a": 1}), {"sum": 43})

    def test_handler_without_state(self):
        p = Plugin()
        p.setup(lambda: "ignored")

        @p.handler
        def predict(input):
            return input

        self.assertEqual(p.invoke([1, 2]), [1, 2])

    def test_state_is_none_without_setup(self):
        p = Plugin()
        p.handler(lambda input, state: {"state": state})
        self.assertEqual(p.invoke({}), {"state": None})

    def test_decorators_return_the_function(self):
        p = Plugin()

        def predict(input):
            return 1

        def load():
            return 2

        self.assertIs(p.handler(predict), predict)
        self.assertIs(p.setup(load), load)

    def test_bad_handlers(self):
        async def coroutine(input):
            return input

        cases = {
            "no parameters": (lambda: None, TypeError),
            "three required": (lambda a, b, c: None, TypeError),
            "required keyword-only": (lambda a, *, k: None, TypeError),
            "async": (coroutine, TypeError),
            "not callable": (42, TypeError),
        }
        for name, (fn, exc) in cases.items():
            with self.subTest(name):
                with self.assertRaises(exc):
                    Plugin().handler(fn)

    def test_var_args_get_state(self):
        p = Plugin()
        p.setup(lambda: "s")
        p.handler(lambda *args: list(args))
        self.assertEqual(p.invoke(1), [1, "s"])

    def test_optional_second_parameter_gets_state(self):
        p = Plugin()
        p.setup(lambda: "s")

        def predict(input, state=None):
            return state

        p.handler(predict)
        self.assertEqual(p.invoke(1), "s")

    def test_one_handler(self):
        p = Plugin()

        def first(input):
            return 1

        def second(input):
            return 2

        p.handler(first)
        with self.assertRaisesRegex(RuntimeError, "already the handler"):
            p.handler(second)

        # The same function defined again (a reloaded module) replaces it.
        def first(input):  # noqa: F811
            return 3

        p.handler(first)
        self.assertEqual(p.invoke(None), 3)

    def test_no_handler(self):
        with self.assertRaisesRegex(RuntimeError, "no handler"):
            Plugin().invoke({})


class TestSetup(unittest.TestCase):
    def test_runs_once(self):
        p = Plugin()
        calls = []

        @p.setup
        def load():
            calls.append(1)
            return len(calls)

        p.handler(lambda input, state: state)
        self.assertFalse(p.loaded)
        self.assertEqual([p.invoke(i) for i in range(3)], [1, 1, 1])
        self.assertEqual(len(calls), 1)
        self.assertTrue(p.loaded)

    def test_runs_once_under_concurrent_calls(self):
        p = Plugin()
        calls = []

        @p.setup
        def load():
            calls.append(1)
            time.sleep(0.1)
            return "model"

        p.handler(lambda input, state: state)
        results = []
        threads = [threading.Thread(target=lambda: results.append(p.invoke({}))) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(results, ["model"] * 8)
        self.assertEqual(len(calls), 1)

    def test_failed_setup_runs_again(self):
        p = Plugin()
        attempts = []

        @p.setup
        def load():
            attempts.append(1)
            if len(attempts) == 1:
                raise OSError("disk not ready")
            return "ok"

        p.handler(lambda input, state: state)
        with self.assertRaises(OSError):
            p.invoke({})
        self.assertFalse(p.loaded)
        self.assertEqual(p.invoke({}), "ok")


class TestErrors(unittest.TestCase):
    def test_codes_are_orcs(self):
        # The Go SDK's plugin.CodeInvalid and plugin.CodeFailed.
        self.assertEqual((CODE_INVALID, CODE_FAILED), ("invalid", "plugin_failed"))

    def test_plugin_error(self):
        cases = [
            ("invalid", PluginError("invalid", "bad"), 2, 400),
            ("failed", PluginError("plugin_failed", "broke"), 1, 500),
            ("own code", PluginError("model_busy", "later"), 1, 500),
            ("own exit code", PluginError("plugin_failed", "x", exit_code=42), 42, 500),
            ("exit code out of range", PluginError("invalid", "x", exit_code=256), 2, 400),
        ]
        for name, err, exit_code, status in cases:
            with self.subTest(name):
                self.assertEqual(err.exec_exit_code(), exit_code)
                self.assertEqual(err.http_status(), status)

    def test_code_is_required(self):
        with self.assertRaises(TypeError):
            PluginError("", "message")

    def test_summary(self):
        cases = [
            ("plain", ValueError("bad value"), "ValueError: bad value"),
            ("multi-line", ValueError("bad\n  value\n"), "ValueError: bad value"),
            ("no message", RuntimeError(), "RuntimeError"),
            ("key error", KeyError("features"), "KeyError: 'features'"),
            ("plugin error", PluginError("invalid", "features is missing"), "features is missing"),
            ("plugin error without message", PluginError("model_busy", ""), "model_busy"),
        ]
        for name, exc, want in cases:
            with self.subTest(name):
                self.assertEqual(summary(exc), want)


class TestJSON(unittest.TestCase):
    def test_encode(self):
        cases = [
            ("compact", {"a": [1, 2.5], "b": None}, '{"a":[1,2.5],"b":null}'),
            ("unicode kept", {"t": "é <b>"}, '{"t":"é <b>"}'),
            ("newlines escaped", {"t": "a\nb"}, '{"t":"a\\nb"}'),
            ("tolist", {"p": Array(0.25, 0.75)}, '{"p":[0.25,0.75]}'),
        ]
        for name, value, want in cases:
            with self.subTest(name):
                self.assertEqual(_json.encode(value), want)

    def test_encode_refuses(self):
        for name, value in {"nan": float("nan"), "inf": [float("inf")], "object": object()}.items():
            with self.subTest(name):
                with self.assertRaises((TypeError, ValueError)):
                    _json.encode(value)

    def test_decode(self):
        self.assertEqual(_json.decode(b' {"a": [1, "\xc3\xa9"]} '), {"a": [1, "é"]})
        for name, raw in {"nan": "[NaN]", "infinity": '{"x": Infinity}', "not utf-8": b'"\xff"',
                          "truncated": '{"a":', "empty": "  "}.items():
            with self.subTest(name):
                with self.assertRaises(ValueError):
                    _json.decode(raw)


if __name__ == "__main__":
    unittest.main()
