# Set-up and common tasks. `make demo` and `make test` work on a fresh clone.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint bench

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

## Detect elements on a real (harvested) screenshot: out/demo/real_desktop.png (annotated) and out/demo/detections.json
demo: $(STAMP)
	$(BIN)/deskvision detect samples/real_desktop.png --out out/demo
	@echo "annotated picture: out/demo/real_desktop.png   detections: out/demo/detections.json"

## Lint and run the test suite
test: $(STAMP)
	$(BIN)/ruff check deskvision tests
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check deskvision tests
	$(BIN)/ruff format --check deskvision tests

## Median latency and peak memory of the default model on a 1920x1080 screenshot
bench: $(STAMP)
	$(BIN)/deskvision bench --width 1920 --height 1080
