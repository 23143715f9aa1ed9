"""Shared fixtures: a two-scene rendered dataset and the tiny recipe shrunk for fast CPU tests."""

import os

import pytest

os.environ.setdefault("MUJOCO_GL", "egl")

from pathlib import Path

RECIPES = Path(__file__).resolve().parents[2] / "recipes"


@pytest.fixture
def tiny_recipe(two_scene_dataset):
    """recipes/pretrain_teacher_tiny.yaml with a narrower decoder, on the two-scene dataset."""
    from ma_vlm.pretrain.recipe import load_recipe

    recipe = load_recipe(RECIPES / "pretrain_teacher_tiny.yaml")
    recipe.model.overrides.update(tap_feature_dims=[8, 8, 8, 8], level_feature_dims=[8, 8, 16],
                                  decoder_hidden_size=8, head_hidden_size=4)
    recipe.data.path = str(two_scene_dataset)
    recipe.data.sources = {"render": 1.0, "lidar": 1.0}
    recipe.train.max_steps, recipe.train.batch_size, recipe.train.save_every = 4, 1, 2
    return recipe


@pytest.fixture
def tiny_model_config():
    """The test-size teacher config (256 px input, 64 px tiles)."""
    from ma_vlm.models.metric_anything import preset_config
    from ma_vlm.models.metric_anything.presets import PRESETS

    backbone = {**PRESETS["tiny"]["backbone_config"], "image_size": 64}
    return preset_config("tiny", image_size=256, backbone_config=backbone, tile_overlaps=(0.0, 0.0),
                         tap_feature_dims=(8, 8, 8, 8), level_feature_dims=(8, 8, 16), decoder_hidden_size=8,
                         head_hidden_size=4)
