# `make demo`: set up .venv and run the main job; `make test`: set up .venv and run the tests.
# `make test-gym1`: the environment tests on the newest Gymnasium 1.x, SB3 and NumPy (in .venv-gym1).
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
EXTRAS ?= baselines,box2d,test,ray
# Second stack: no constraints file, no imitation (it supports gymnasium 0.29 only); torch==2.13.0
# is pinned because an unpinned torch pulls a multi-GB CUDA build (2.13.0 resolves to the CPU one).
GYM1_VENV ?= .venv-gym1
GYM1_BIN := $(GYM1_VENV)/bin
GYM1_PACKAGES ?= "gymnasium>=1,<2" stable-baselines3 numpy torch==2.13.0

.PHONY: install install-gym1 demo test test-slow test-gym1 bench clean

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

demo: install
	$(BIN)/noisy-expert-bench demo --out demo-results --jobs 2

test: install
	$(BIN)/python -m pytest

test-slow: install
	$(BIN)/python -m pytest -m slow

# Tests that need the baselines stack (imitation) are skipped there, each with its reason (-ra).
test-gym1: install-gym1
	$(GYM1_BIN)/python -m pytest

clean:
	rm -rf $(VENV) $(GYM1_VENV) *.egg-info demo-results
