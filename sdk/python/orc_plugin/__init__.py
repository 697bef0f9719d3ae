"""orc_plugin is the Python SDK for Orc plugins.

A plugin author writes one handler, and optionally a one-time setup that
loads the model::

    from orc_plugin import plugin, PluginError

    @plugin.setup
    def load():
        return joblib.load("/app/model.joblib")

    @plugin.handler
    def predict(input, model):
        if "features" not in input:
            raise PluginError("invalid", "features is missing")
        return {"class": str(model.predict([input["features"]])[0])}

    if __name__ == "__main__":
        plugin.run()

plugin.run() speaks Orc's plugin container protocol v1, chosen by the
ORC_PROTOCOL environment variable: ``exec`` (the default; one process per
invocation, as the seed's ``python main.py '<json>'``) or ``http`` (a warm
container serving ``GET /healthz`` and ``POST /invoke`` on $ORC_PORT). The
handler is the same for both. The SDK uses only the standard library.
"""

from ._plugin import Plugin, plugin
from ._version import __version__
from .errors import CODE_FAILED, CODE_INVALID, EXIT_FAILED, EXIT_INVALID, EXIT_OK, PluginError

__all__ = [
    "CODE_FAILED",
    "CODE_INVALID",
    "EXIT_FAILED",
    "EXIT_INVALID",
    "EXIT_OK",
    "Plugin",
    "PluginError",
    "__version__",
    "plugin",
]
