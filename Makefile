# edgeroam: two commands. `make demo` runs the main job on the embedded default; `make test` runs every test.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv demo test lint bench mutation emulate clean

venv: $(STAMP)

# torch is pinned and installed first so that no other package can pull a different (CUDA) build.
$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[test,emulation,sumo]'
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

# a small real-trace window (KAIST) on the net backend (real Mininet network, agents moving tensors), then its
# report; needs root. The window: the 400 m x 400 m box of the KAIST rectangle with the most distinct users in
# the first 600 s (61 of 92), about 25 edge servers, 5 test users, 600 s of trace at speed 10 (about 2 minutes).
# EMULATE_SET replaces these --set overrides (e.g. another run.speed or run.duration_s).
EMULATE_SET ?= --set dataset.region=metric:-650,750,-250,1150 --set dataset.split.test_users=5 \
	--set run.duration_s=600 --set run.speed=10
emulate: $(STAMP)
	@if [ "$$(id -u)" != "0" ]; then \
		echo "make emulate: the net backend needs root (network namespaces, veth links, tc); run it as root" \
		     "(sudo make emulate). Nothing was started."; exit 1; fi
	$(BIN)/edgeroam doctor
	$(BIN)/edgeroam run scenarios/perdnn-kaist.toml --set run.backend=net --set run.out=runs/emulate --force $(EMULATE_SET)
	$(BIN)/edgeroam report "$$(ls -td runs/emulate/*/ | head -1)"

clean:
	rm -rf runs .cache .pytest_cache
