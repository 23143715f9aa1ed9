"""Shared fixtures. `tests/` goes on sys.path so test helpers import as plain modules
(a dependency installs a top-level `tests` package, so `tests.x` would resolve there)."""

import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MUJOCO_GL", "egl")
sys.path.insert(0, str(Path(__file__).parent))
