"""Toy training: the "model" is a factor (2 on the first training, 3 on the next ones); its loss is published
as toy_train_loss and the version is saved through the runtime registry."""

import json
import os
import time

from myelin_sdk.runtime import data_path, new_version, publish_metric

numbers = json.loads((data_path() / "numbers.json").read_text())
runs = data_path() / "train-runs.txt"
count = int(runs.read_text()) + 1 if runs.exists() else 1
time.sleep(float(os.environ.get("TOY_TRAIN_SECONDS", "0")))
factor = 2 if count == 1 else 3
loss = 0.2 / count
with new_version(metrics={"toy_train_loss": loss}) as version:
    (version / "model.json").write_text(json.dumps({"factor": factor, "n": len(numbers)}))
publish_metric("toy_train_loss", loss)
runs.write_text(str(count))
print(f"training {count}: factor {factor}, loss {loss}")
