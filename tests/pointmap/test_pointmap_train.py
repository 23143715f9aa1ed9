"""The point-map training loss: zero at the truth, and its scale target is metres per unit."""

from types import SimpleNamespace

import torch

from ma_vlm.pointmap.train import pointmap_loss


def test_loss_is_minimal_at_the_normalised_truth():
    depth = 2.0 + torch.rand(1, 6, 8)
    points = torch.stack([torch.randn(1, 6, 8), torch.randn(1, 6, 8), depth], dim=-1)
    valid = torch.ones(1, 6, 8, dtype=torch.bool)
    mean_depth = depth.mean()
    perfect = SimpleNamespace(affine_points=points / mean_depth, metric_scale=mean_depth.view(1),
                              mask_probability=torch.full((1, 6, 8), 1 - 1e-6))
    assert pointmap_loss(perfect, points, valid).item() < 1e-4
    wrong_scale = SimpleNamespace(**{**vars(perfect), "metric_scale": 2 * mean_depth.view(1)})
    assert pointmap_loss(wrong_scale, points, valid).item() > 0.69  # |log 2|
