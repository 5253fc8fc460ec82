# mailguard: the two commands are `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
MG     := $(BIN)/mailguard
DEMO_OUT := out/demo

.PHONY: install demo test lint typecheck pipeline clean-demo

# Create the virtual environment and install mailguard with pinned versions (constraints.txt);
# the ray extra too, so the Ray engine's tests (tests/test_score_ray.py) run in CI instead of skipping.
$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[dev,ray]'
	touch $@

install: $(VENV)/.installed

# Prepare data and train the default (linear) model if no champion is registered,
# then score the bundled sample mail and print what was flagged.
demo: install
	test -f data/processed/dataset.parquet || $(MG) data prepare
	$(MG) train --if-no-champion
	$(MG) score data/samples/city_inbox.mbox data/samples/export.jsonl --out $(DEMO_OUT) --model champion --org-domain cityofexample.gov; \
	  rc=$$?; test $$rc -le 1
	$(MG) results $(DEMO_OUT)

# The test suite (what CI runs): lint, type-check, then pytest. Slow tests are opt-in with `--slow`.
test: install
	$(BIN)/ruff check mailguard models pipelines serve tests bench
	$(BIN)/mypy
	$(BIN)/pytest

typecheck: install
	$(BIN)/mypy

# The full DVC pipeline: prepare -> train -> evaluate.
pipeline: install
	$(BIN)/dvc repro

clean-demo:
	rm -rf $(DEMO_OUT)
