"""Trains the classifier's model on the iris dataset and saves it with joblib.

It runs while the image is built (see the Dockerfile): the dataset ships
with scikit-learn, so nothing is downloaded. The build fails when the model
scores badly or misclassifies the known samples.

    python3 train.py /app/model.joblib
"""

import sys
import time

import joblib
import sklearn
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

# One sample of each species from the dataset: the model must get them right.
KNOWN = [
    ([5.1, 3.5, 1.4, 0.2], "setosa"),
    ([5.9, 3.0, 4.2, 1.5], "versicolor"),
    ([6.7, 3.0, 5.2, 2.3], "virginica"),
]
MIN_ACCURACY = 0.9


def train():
    iris = load_iris()
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    scores = cross_val_score(model, iris.data, iris.target, cv=5)
    model.fit(iris.data, iris.target)
    return {
        "model": model,
        "classes": [str(name) for name in iris.target_names],
        "features": ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"],
        "accuracy": float(scores.mean()),
        "sklearn_version": sklearn.__version__,
        "trained_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def check(bundle):
    if bundle["accuracy"] < MIN_ACCURACY:
        sys.exit(f"train: cross-validated accuracy {bundle['accuracy']:.3f} is under {MIN_ACCURACY}")
    predicted = bundle["model"].predict([features for features, _ in KNOWN])
    for (features, want), got in zip(KNOWN, predicted, strict=True):
        if bundle["classes"][got] != want:
            sys.exit(f"train: {features} is classified {bundle['classes'][got]}, want {want}")


def main(argv):
    if len(argv) != 2:
        sys.exit("usage: train.py MODEL_PATH")
    begin = time.monotonic()
    bundle = train()
    check(bundle)
    joblib.dump(bundle, argv[1])
    print(f"train: logistic regression on iris, 5-fold accuracy {bundle['accuracy']:.3f}, "
          f"scikit-learn {bundle['sklearn_version']}, {time.monotonic() - begin:.2f}s -> {argv[1]}")


if __name__ == "__main__":
    main(sys.argv)
