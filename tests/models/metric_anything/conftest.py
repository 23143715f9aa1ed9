import numpy as np
import pytest
import torch

from ma_vlm.models.metric_anything import MetricAnythingForDepthEstimation, MetricAnythingImageProcessor, preset_config
from ma_vlm.testing.official_reference import make_official_state_dict


@pytest.fixture(scope="session")
def official_state_dict():
    """A tiny Student-DepthMap with the published layout (1536 px, 32 blocks, taps 7/13/19/25)."""
    return make_official_state_dict(seed=0)


@pytest.fixture(scope="session")
def official_checkpoint(tmp_path_factory, official_state_dict):
    path = tmp_path_factory.mktemp("official") / "student_depthmap.pt"
    torch.save(official_state_dict, path)
    return path


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A saved tiny-preset depth model folder (random weights, 512 px pyramid)."""
    torch.manual_seed(0)
    model = MetricAnythingForDepthEstimation(preset_config("tiny")).eval()
    with torch.no_grad():  # random weights, but a head that predicts positive inverse depth
        model.head[12].weight.abs_().mul_(0.05)
        model.head[12].bias.fill_(0.5)
    folder = tmp_path_factory.mktemp("tiny_model")
    model.save_pretrained(folder)
    MetricAnythingImageProcessor(size=512).save_pretrained(folder)
    return folder


@pytest.fixture
def rgb_image():
    rng = np.random.default_rng(0)
    return (rng.random((96, 128, 3)) * 255).astype(np.uint8)
