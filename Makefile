# myelin-sdk — `make demo` and `make test` work from a fresh clone (they create .venv first).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: help venv test lint demo manifests benchmark golden docs clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | sort

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,demo]'
	touch $(STAMP)

venv: $(STAMP) ## create .venv with the package and its dev tools

test: $(STAMP) ## run the test suite
	$(PY) -m pytest

lint: $(STAMP) ## ruff (lint and format check) and mypy on src/
	$(VENV)/bin/ruff check src tests examples
	$(VENV)/bin/ruff format --check src tests examples
	$(VENV)/bin/mypy src examples/recommender_demo/pipeline.py

golden: $(STAMP) ## regenerate the golden YAML files under tests/golden (review the diff!)
	$(PY) -m pytest tests/compiler/test_golden.py --update-golden -q

demo: $(STAMP) ## the recommender demo on this machine: train, gate, deploy, predict, feedback, retrain, canary
	$(PY) examples/recommender_demo/demo.py --workdir build/demo

manifests: $(STAMP) ## the cluster path: lint the demo and compile it to build/recommender-demo/
	$(VENV)/bin/myelin lint examples/recommender_demo/recommender-demo.yaml
	$(VENV)/bin/myelin compile examples/recommender_demo/pipeline.py -n myelin -o build/recommender-demo
	@echo "manifests for review: build/recommender-demo/ (kubectl apply -k build/recommender-demo)"

benchmark: $(STAMP) ## RMSE and fit time of the recommender against Surprise's SVD and SVD++ (docs/performance.md)
	$(PY) benchmarks/run.py

docs: $(STAMP) ## build the documentation site into build/site (mkdocs)
	$(PY) -m pip install --quiet -e '.[dev,docs]'
	$(VENV)/bin/mkdocs build --strict -d build/site

clean: ## remove the virtual environment and build output
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache .hypothesis
