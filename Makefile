# Two commands on a fresh machine: `make demo` and `make test`. Every target sets up
# the environment it needs first (`make install`).
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.14.1 torchvision==0.29.1
BIN := $(VENV)/bin
STAMP := $(VENV)/.albench-installed
PYTEST_ARGS ?=

.PHONY: install demo test test-all bench gpu-check gpu-wheels gpu-check-offline lint format clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@echo "installing $(TORCH) (pinned; override with make ... TORCH='torch==X torchvision==Y')"
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e '.[offline,dev]'
	$(BIN)/python -m pip install --quiet -e strategies/albench-example-plugin
	@touch $(STAMP)

demo: install
	$(BIN)/python -m albench.demo

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-all: install
	$(BIN)/python -m pytest -m "" $(PYTEST_ARGS)

bench: install
	$(BIN)/python -m pytest benchmarks --benchmark-only --benchmark-json=benchmarks/last-run.json -p no:cacheprovider -o addopts=""
	$(BIN)/python -m benchmarks.render benchmarks/last-run.json docs/benchmarks.md

# The GPU acceptance run; its tables land in GPU_CHECK_OUT. On a GPU machine without a
# package index: `make gpu-wheels` on one with an index, copy the repository with its .whl/
# folder over, and `make gpu-check-offline` there. That machine's $(PYTHON) must already
# hold torch, torchvision and the scientific stack; the wheels add open_clip and the rest.
GPU_CHECK_OUT ?= reports/gpu-check
GPU_CHECK_ARGS ?=
WHEELS ?= .whl

gpu-check: install
	$(BIN)/python -m benchmarks.gpu_check --out $(GPU_CHECK_OUT) $(GPU_CHECK_ARGS)

gpu-wheels: install
	$(BIN)/python -m benchmarks.gpu_wheels $(WHEELS)

gpu-check-offline:
	$(PYTHON) -m pip install --quiet --no-index --no-deps --no-compile --upgrade --target $(WHEELS)/site $(WHEELS)/*.whl
	PYTHONPATH=$(WHEELS)/site:. PYTHONUNBUFFERED=1 $(PYTHON) -m benchmarks.gpu_check --out $(GPU_CHECK_OUT) $(GPU_CHECK_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
