# `make demo`: set up .venv and run the main job; `make test`: set up .venv and run the tests.
# `make test-gym1`: the environment tests on the newest Gymnasium 1.x, SB3 and NumPy (in .venv-gym1).
# `make test-modern` / `make demo-modern`: the whole benchmark on the newest Gymnasium 1.x, SB3 and NumPy
# with imitation 1.0.1 (in .venv-modern; requirements-modern.txt says why imitation goes in with --no-deps).
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
EXTRAS ?= baselines,box2d,test,ray
# Second stack: no constraints file, no imitation (it supports gymnasium 0.29 only); torch==2.13.0
# is pinned because an unpinned torch pulls a multi-GB CUDA build (2.13.0 resolves to the CPU one).
GYM1_VENV ?= .venv-gym1
GYM1_BIN := $(GYM1_VENV)/bin
GYM1_PACKAGES ?= "gymnasium>=1,<2" stable-baselines3 numpy torch==2.13.0
MODERN_VENV ?= .venv-modern
MODERN_BIN := $(MODERN_VENV)/bin

.PHONY: install install-gym1 install-modern demo demo-modern test test-slow test-gym1 test-modern bench clean

$(BIN)/.installed-$(EXTRAS): setup.cfg pyproject.toml constraints.txt
	@echo "make install: creating $(VENV) with $(PYTHON), then installing this package with the extras [$(EXTRAS)]:"
	@echo "  the pinned stack of constraints.txt (gymnasium 0.29.1, torch CPU, stable-baselines3 2.2.1, imitation 1.0.1,"
	@echo "  box2d, ray, pytest): about 2 GB once installed, a few minutes (3-10, by network) on a first run; pip lists each package"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --progress-bar off --upgrade "pip>=23"
	$(BIN)/python -m pip install --progress-bar off -c constraints.txt -e ".[$(EXTRAS)]"
	@echo "make install: done ($(VENV)); next runs of make demo/test skip this step"
	touch $@

install: $(BIN)/.installed-$(EXTRAS)

$(GYM1_BIN)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(GYM1_VENV)
	$(GYM1_BIN)/python -m pip install --quiet --upgrade "pip>=23"
	$(GYM1_BIN)/python -m pip install --quiet --upgrade -e ".[box2d,test]" $(GYM1_PACKAGES)
	$(GYM1_BIN)/python -m pip list 2>/dev/null | grep -i -E '^(gymnasium|stable.baselines3|numpy|torch|box2d) '
	touch $@

install-gym1: $(GYM1_BIN)/.installed

# imitation and this package with --no-deps: their declared pins (gymnasium ~0.29, SB3 ~2.2.1) would
# pull the stack back; requirements-modern.txt lists what they need instead (`pip check` reports those
# pins, and the deps of imitation's scripts we leave out, as conflicts).
$(MODERN_BIN)/.installed: setup.cfg pyproject.toml requirements-modern.txt
	$(PYTHON) -m venv $(MODERN_VENV)
	$(MODERN_BIN)/python -m pip install --quiet --upgrade "pip>=23"
	$(MODERN_BIN)/python -m pip install --quiet --upgrade -r requirements-modern.txt
	$(MODERN_BIN)/python -m pip install --quiet --no-deps imitation==1.0.1
	$(MODERN_BIN)/python -m pip install --quiet --no-deps -e .
	$(MODERN_BIN)/python -m pip list 2>/dev/null | grep -i -E '^(gymnasium|stable.baselines3|imitation|numpy|torch|box2d) '
	touch $@

install-modern: $(MODERN_BIN)/.installed

demo: install
	$(BIN)/noisy-expert-bench demo --out demo-results --jobs 2

test: install
	$(BIN)/python -m pytest

test-slow: install
	$(BIN)/python -m pytest -m slow

# Tests that need the baselines stack (imitation) are skipped there, each with its reason (-ra).
test-gym1: install-gym1
	$(GYM1_BIN)/python -m pytest

# The whole default suite on the modern stack (no ray extra: its one test is skipped with the reason).
test-modern: install-modern
	$(MODERN_BIN)/python -m pytest

demo-modern: install-modern
	$(MODERN_BIN)/noisy-expert-bench demo --out demo-results-modern --jobs 2

clean:
	rm -rf $(VENV) $(GYM1_VENV) $(MODERN_VENV) *.egg-info demo-results demo-results-modern
