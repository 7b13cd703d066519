"""Toy data preparation: writes the numbers 1..10 to DATA_PATH/numbers.json and counts its runs."""

import json
import os
from pathlib import Path

data = Path(os.environ["DATA_PATH"])
(data / "numbers.json").write_text(json.dumps(list(range(1, 11))))
runs = data / "prep-runs.txt"
runs.write_text(str(int(runs.read_text()) + 1 if runs.exists() else 1))
print("wrote", data / "numbers.json")
