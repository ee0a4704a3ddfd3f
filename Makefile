# `make demo`: set up .venv and run the main job; `make test`: set up .venv and run the tests.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
EXTRAS ?= baselines,test,ray

.PHONY: install demo test test-slow bench clean

$(BIN)/.installed-$(EXTRAS): setup.cfg pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=23"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[$(EXTRAS)]"
	touch $@

install: $(BIN)/.installed-$(EXTRAS)

demo: install
	$(BIN)/noisy-expert-bench demo --out demo-results --jobs 2

test: install
	$(BIN)/python -m pytest

test-slow: install
	$(BIN)/python -m pytest -m slow

clean:
	rm -rf $(VENV) *.egg-info demo-results
