# edgeroam: two commands. `make demo` runs the main job on the embedded default; `make test` runs every test.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv demo test lint bench mutation clean

venv: $(STAMP)

# torch is pinned and installed first so that no other package can pull a different (CUDA) build.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[test,emulation]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/edgeroam demo --out runs/demo

test: $(STAMP)
	$(BIN)/ruff check edgeroam tests benchmarks
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q -p no:cacheprovider --timeout=900

lint: $(STAMP)
	$(BIN)/ruff check edgeroam tests benchmarks
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python -m pip install -q -e '.[bench]'
	for f in benchmarks/*.py; do $(BIN)/python $$f || exit 1; done

# mutation check (slow, not part of `make test`): mutmut over the core modules, each against its own package's
# tests; prints the kill rate per module and the surviving mutants (details in .cache/mutation/summary.json)
mutation: $(STAMP)
	$(BIN)/python -m pip install -q -e '.[mutation]'
	$(BIN)/ruff check tools
	$(BIN)/python tools/mutation.py $(MUTATION_ARGS)

clean:
	rm -rf runs .cache .pytest_cache
