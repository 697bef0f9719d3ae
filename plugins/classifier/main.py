"""Classifier is an example Orc plugin: a scikit-learn model that names the iris species.

The model (a logistic regression trained on the iris dataset when the image
is built, see train.py) is loaded once per process: once per call under the
exec protocol, once per warm container under http.

    {"features": [5.1, 3.5, 1.4, 0.2]}
      -> {"class": "setosa", "class_index": 0, "probabilities": {"setosa": 0.98, ...}}
    {"samples": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}
      -> {"predictions": [{"class": "setosa", ...}, {"class": "virginica", ...}]}

The features are sepal length, sepal width, petal length and petal width,
in centimetres.
"""

import json
import math
import os
import sys
import time

from orc_plugin import PluginError, plugin

MODEL_PATH = os.environ.get("CLASSIFIER_MODEL", "/app/model.joblib")
N_FEATURES = 4
MAX_SAMPLES = 1000
USAGE = ('give "features": [sepal length, sepal width, petal length, petal width] in cm, '
         'or "samples": a list of such lists')


@plugin.setup
def load():
    begin = time.monotonic()
    import joblib  # here, not at the top: under http, /healthz answers while it loads

    bundle = joblib.load(MODEL_PATH)
    print(f"classifier: model loaded from {MODEL_PATH} in {time.monotonic() - begin:.3f}s "
          f"(accuracy {bundle['accuracy']:.3f}, scikit-learn {bundle['sklearn_version']}, pid {os.getpid()})",
          file=sys.stderr)
    return bundle


@plugin.handler
def classify(input, bundle):
    if not isinstance(input, dict):
        raise PluginError("invalid", f"input must be an object: {USAGE}")
    unknown = sorted(set(input) - {"features", "samples"})
    if unknown:
        raise PluginError("invalid", f"unknown field {json.dumps(unknown[0])}: {USAGE}")
    if "features" in input and "samples" in input:
        raise PluginError("invalid", 'give either "features" or "samples", not both')
    if "features" in input:
        rows = [_row(input["features"], "features")]
    elif "samples" in input:
        samples = input["samples"]
        if not isinstance(samples, list) or not samples:
            raise PluginError("invalid", "samples must be a non-empty list of feature lists")
        if len(samples) > MAX_SAMPLES:
            raise PluginError("invalid", f"samples has {len(samples)} rows, at most {MAX_SAMPLES}")
        rows = [_row(row, f"samples[{i}]") for i, row in enumerate(samples)]
    else:
        raise PluginError("invalid", f"features is missing: {USAGE}")

    classes = bundle["classes"]
    predictions = []
    for probabilities in bundle["model"].predict_proba(rows):
        best = int(probabilities.argmax())
        predictions.append({
            "class": classes[best],
            "class_index": best,
            "probabilities": {name: round(float(p), 6) for name, p in zip(classes, probabilities, strict=True)},
        })
    if "features" in input:
        return predictions[0]
    return {"predictions": predictions}


def _row(value, where):
    """Returns value as a list of N_FEATURES floats, or raises PluginError naming where."""
    if not isinstance(value, list):
        raise PluginError("invalid", f"{where} must be a list of {N_FEATURES} numbers")
    if len(value) != N_FEATURES:
        raise PluginError("invalid", f"{where} must have {N_FEATURES} numbers "
                                     f"(sepal length, sepal width, petal length, petal width), not {len(value)}")
    for i, x in enumerate(value):
        # bool is an int in Python, not a number in JSON.
        if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
            raise PluginError("invalid", f"{where}[{i}] must be a number, not {json.dumps(x)}")
    return [float(x) for x in value]


if __name__ == "__main__":
    plugin.run()
