# nndsl: `make run` trains the checkerboard exercise; `make test` runs the whole suite.
# Each target creates its own virtualenv and installs what it needs.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The PyTorch and TensorFlow versions the test suite runs against (CPU builds).
TORCH_PIN := torch==2.13.0
TENSORFLOW_PIN := tensorflow-cpu==2.21.0
RUN_DIR ?= runs/checkerboard
# The suite runs in this many pytest-xdist processes, a test file to each (`--dist loadfile`: a
# file's module fixtures are built once); 2 for CI's two cores. TEST_WORKERS=0 runs it in one.
TEST_WORKERS ?= 2
# The VS Code grammar's test (tests/test_vscode_grammar.py) tokenizes with VS Code's own engine,
# vscode-textmate and vscode-oniguruma from npm, kept in this folder (not the source tree).
NPM ?= npm
NODE_CACHE ?= .cache/node
TEXTMATE_PINS := vscode-textmate@9.3.2 vscode-oniguruma@2.0.1

.PHONY: run test setup setup-test lint golden bench fuzz clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,images,lsp,export,sweep,progress,tensorboard]' '$(TORCH_PIN)' '$(TENSORFLOW_PIN)'
	touch $(VENV)/.installed-run $@

$(NODE_CACHE)/.installed: Makefile
	mkdir -p $(NODE_CACHE)
	$(NPM) install --silent --no-audit --no-fund --prefix $(NODE_CACHE) $(TEXTMATE_PINS)
	touch $@

setup: $(VENV)/.installed-run
setup-test: $(VENV)/.installed-test $(NODE_CACHE)/.installed

## run: train specs/checkerboard.nn on the NumPy backend; weights and plots go to $(RUN_DIR)
run: setup
	$(BIN)/nndsl summary specs/checkerboard.nn
	$(BIN)/nndsl train specs/checkerboard.nn --out $(RUN_DIR)
	@echo "results (weights.npz, history.json, loss.png, decision_boundary.png): $(RUN_DIR)"

## test: the whole suite, with the torch and TensorFlow backends required (never skipped)
test: setup-test
	NNDSL_REQUIRE_BACKENDS=1 $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile --durations=25
	$(BIN)/ruff check nndsl tests bench templates specs

lint: setup-test
	$(BIN)/ruff check nndsl tests bench templates specs

## golden: regenerate the golden files of generated code (review the diff!)
golden: setup-test
	$(BIN)/python -m tests.golden

## bench: generated code vs hand-written references, as ratios
bench: setup-test
	$(BIN)/python bench/run.py

## fuzz: the long fuzz run of tests/test_fuzz.py for FUZZ_SECONDS (default 30 minutes);
## prints the number of inputs tried; a failure stops it with hypothesis's falsifying example
FUZZ_SECONDS ?= 1800
fuzz: setup-test
	NNDSL_FUZZ_SECONDS=$(FUZZ_SECONDS) $(BIN)/python -m tests.test_fuzz

clean:
	rm -rf $(VENV) runs build dist .pytest_cache .hypothesis $(NODE_CACHE)
