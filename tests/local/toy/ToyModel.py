"""A toy Seldon model: predict multiplies by the trained factor; send_feedback publishes the mean reward."""

import json
import os
from pathlib import Path

from seldon_core.flask_utils import SeldonMicroserviceException

from myelin_sdk.runtime import publish_metric


class ToyModel:
    def __init__(self):
        model = json.loads((Path(os.environ["MODEL_PATH"]) / "model.json").read_text())
        self.factor = model["factor"]
        self.rewards = []

    def predict(self, X, features_names=None):
        if (X < 0).any():  # a 400 with the model's own message, which the router and the handle pass on
            raise SeldonMicroserviceException(f"negative input {X.min()}: the toy counts", status_code=400)
        return X * self.factor

    def send_feedback(self, features, feature_names, reward, truth, routing=None):
        self.rewards.append(float(reward))
        publish_metric("toy_accuracy", sum(self.rewards) / len(self.rewards))
        return []
