"""Fixtures of the reliability tests: a 256 px depth model folder (prompt-free, teacher, and one
whose weights hold NaN), an official-format checkpoint and an official-format Student-PointMap."""

import os
import sys
from pathlib import Path

import pytest
import torch

os.environ.setdefault("MUJOCO_GL", "egl")
sys.path.insert(0, str(Path(__file__).parent))  # reliability_helpers, as tests/conftest.py does for tests/

from reliability_helpers import save_tiny_model  # noqa: E402


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    return save_tiny_model(tmp_path_factory.mktemp("tiny_model"))


@pytest.fixture(scope="session")
def tiny_teacher_dir(tmp_path_factory):
    return save_tiny_model(tmp_path_factory.mktemp("tiny_teacher"), use_prompt=True)


@pytest.fixture(scope="session")
def nan_model_dir(tmp_path_factory):
    return save_tiny_model(tmp_path_factory.mktemp("nan_model"), poison_nan=True)


@pytest.fixture(scope="session")
def official_checkpoint(tmp_path_factory):
    from ma_vlm.testing.official_reference import make_official_state_dict

    path = tmp_path_factory.mktemp("official") / "student_depthmap.pt"
    torch.save(make_official_state_dict(seed=0), path)
    return path


@pytest.fixture(scope="session")
def official_pointmap_checkpoint(tmp_path_factory):
    from ma_vlm.testing.pointmap_reference import make_pointmap_checkpoint

    path = tmp_path_factory.mktemp("official_pointmap") / "student_pointmap.pt"
    torch.save(make_pointmap_checkpoint(seed=0), path)
    return path
