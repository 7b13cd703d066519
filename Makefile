# myelin-sdk — `make demo` and `make test` work from a fresh clone (they create .venv first).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: help venv prometheus test lint demo manifests bench golden pictures docs clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | sort

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,demo]'
	touch $(STAMP)

venv: $(STAMP) ## create .venv with the package and its dev tools

prometheus: ## Prometheus + Pushgateway for the tests: from PATH, else Debian's packages into .cache/ (no root)
	@$(PYTHON) tests/support/prometheus_binaries.py

test: $(STAMP) prometheus ## run the test suite
	$(PY) -m pytest

lint: $(STAMP) ## ruff (lint and format check) and mypy on src/ and benchmarks/
	$(VENV)/bin/ruff check src tests examples benchmarks
	$(VENV)/bin/ruff format --check src tests examples benchmarks
	$(VENV)/bin/mypy src examples/recommender_demo/pipeline.py
# the benchmark suites (run.py runs in its own environment, numpy<2 + Surprise, without the SDK)
	MYPYPATH=tests $(VENV)/bin/mypy $(filter-out benchmarks/run.py,$(wildcard benchmarks/*.py))

golden: $(STAMP) ## regenerate the golden YAML files under tests/golden (review the diff!)
	$(PY) -m pytest tests/compiler/test_golden.py --update-golden -q

demo: $(STAMP) ## the recommender demo on this machine: train, gate, deploy, predict, feedback, retrain, canary
	$(PY) examples/recommender_demo/demo.py --workdir build/demo

manifests: $(STAMP) ## the cluster path: lint the demo and compile it to build/recommender-demo/
	$(VENV)/bin/myelin lint examples/recommender_demo/recommender-demo.yaml
	$(VENV)/bin/myelin compile examples/recommender_demo/pipeline.py -n myelin -o build/recommender-demo
	@echo "manifests for review: build/recommender-demo/ (kubectl apply -k build/recommender-demo)"

bench: $(STAMP) prometheus ## every benchmark beside its baseline: a table, benchmarks/results.json and docs (< 10 min); BENCH=--quick for CI's budget
	$(PY) benchmarks/bench.py $(BENCH)

pictures: $(STAMP) ## redraw the Axon pictures the docs show (docs/img/*.svg; needs Graphviz's dot)
	$(PY) docs/pictures.py

DOCS_STAMP := $(VENV)/.docs-stamp
$(DOCS_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,demo,docs]'
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP) ## build the documentation site into build/site (mkdocs --strict, API reference from the docstrings)
	$(VENV)/bin/mkdocs build --strict -d build/site

.PHONY: notebook-strip
notebook-strip: $(STAMP) ## remove outputs and execution counts from the example notebook (the tests refuse them in git)
	$(PY) -c 'import sys, nbformat; nb = nbformat.read(sys.argv[1], 4); \
	[c.update(outputs=[], execution_count=None) or c.metadata.pop("execution", None) for c in nb.cells if c.cell_type == "code"]; \
	nbformat.write(nb, sys.argv[1])' examples/recommender_demo/notebook.ipynb

clean: ## remove the virtual environment and build output
	rm -rf $(VENV) .venv-bench build .pytest_cache .mypy_cache .ruff_cache .hypothesis
