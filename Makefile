# `make demo` and `make test` create the environment when it is missing.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: env voices demo lint test test-compat test-browser mutation bench clean

env: $(STAMP)

# The reproducible environment: setup.cfg's ranges, resolved by constraints/dev.txt.
$(STAMP): setup.cfg pyproject.toml constraints/dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints/dev.txt -e '.[test]'
	touch $(STAMP)

# The Debian voice packages of the recipe's corpus (the tests marked `voices`),
# installed when missing: as root or with passwordless sudo, else one line
# naming the command to run. BSSMASK_SKIP_VOICE_TESTS=1 skips those tests instead.
voices: $(STAMP)
ifneq ($(BSSMASK_SKIP_VOICE_TESTS),1)
	@cd recipes/asterisk2mix && local/install_asterisk_sounds.sh \
		$$(../../$(BIN)/python local/prepare_data.py --conf conf.yml --storage_dir data --missing_packages true)
endif

demo: $(STAMP)
	$(BIN)/bssmask ablate --out results/ablation

# ruff, configured in pyproject.toml; .ci/run runs it before the suite.
lint: $(STAMP)
	$(BIN)/ruff check .

# Two test processes (pytest-xdist; TEST_JOBS=1 runs one): see tests/conftest.py.
TEST_JOBS ?= 2

test: $(STAMP) voices
	$(BIN)/python -m pytest -q -n $(TEST_JOBS) --dist loadgroup tests

# The suite on the oldest and the newest stack of setup.cfg's ranges
# (constraints/oldest.txt, constraints/newest.txt), each in its own environment
# with a non-editable install; prints a versions x result table.
test-compat:
	$(PYTHON) tests/compat.py

# The listening pages opened in headless Chromium (Debian: apt-get install -y chromium); not in `make test`.
test-browser: $(STAMP)
	$(BIN)/python -m pytest -q -m browser tests/test_listening_browser.py

# Mutation testing of the core modules (setup.cfg's [mutmut]), outside `make test`:
# see docs/testing.md, Mutation testing, for its last run. MUTATION_JOBS mutants run at a time.
MUTMUT := mutmut==3.8.1
MUTATION_JOBS ?= 1

mutation: $(STAMP)
	$(BIN)/python -m pip install -q '$(MUTMUT)'
	rm -rf mutants && mkdir mutants
	env -u PYTHONPATH OMP_NUM_THREADS=1 nice -n 10 $(BIN)/mutmut run --max-children $(MUTATION_JOBS) \
		> mutants/run.log 2>&1 || (tail -c 3000 mutants/run.log; exit 1)
	env -u PYTHONPATH $(BIN)/python tests/mutation_report.py

bench: $(STAMP)
	$(BIN)/python benchmarks/ablation_speed.py

clean:
	rm -rf results exp mutants
