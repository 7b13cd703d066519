# myelin-sdk — `make demo` and `make test` work from a fresh clone (they create .venv first).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: help venv prometheus test lint demo manifests benchmark golden pictures docs clean

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

BENCH_VENV ?= .venv-bench
benchmark: ## the recommender against Surprise's SVD and SVD++ on 5 folds of MovieLens 100k (MOVIELENS_DIR=...)
	@test -n "$(MOVIELENS_DIR)" || { echo "set MOVIELENS_DIR to an extracted ml-100k (e.g. ../shared/datasets/ml-100k)"; exit 2; }
	test -x $(BENCH_VENV)/bin/python || { $(PYTHON) -m venv $(BENCH_VENV) && $(BENCH_VENV)/bin/pip install --quiet -r benchmarks/requirements.txt; }
	$(BENCH_VENV)/bin/python benchmarks/run.py --data-dir $(MOVIELENS_DIR)

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
	rm -rf $(VENV) $(BENCH_VENV) build .pytest_cache .mypy_cache .ruff_cache .hypothesis
