import pytest
import torch

from ma_vlm.cli import main
from ma_vlm.testing.pointmap_reference import make_pointmap_checkpoint


@pytest.fixture(scope="session")
def depth_model_dir(tmp_path_factory):
    """A saved tiny-preset depth model (random weights, positive inverse depth, 512 px pyramid)."""
    from ma_vlm.models.metric_anything import (
        MetricAnythingForDepthEstimation,
        MetricAnythingImageProcessor,
        preset_config,
    )

    torch.manual_seed(0)
    model = MetricAnythingForDepthEstimation(preset_config("tiny")).eval()
    with torch.no_grad():
        model.head[12].weight.abs_().mul_(0.05)
        model.head[12].bias.fill_(0.5)
    folder = tmp_path_factory.mktemp("depth_model")
    model.save_pretrained(folder)
    MetricAnythingImageProcessor(size=512).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def pointmap_model_dir(tmp_path_factory):
    """A converted tiny official-format Student-PointMap (a pinhole map: its camera fit means something)."""
    folder = tmp_path_factory.mktemp("pointmap_model")
    torch.save(make_pointmap_checkpoint(seed=0), folder / "student_pointmap.pt")
    assert main(["convert", str(folder / "student_pointmap.pt"), str(folder / "model")]) == 0
    return folder / "model"
