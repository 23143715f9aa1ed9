"""The training init belongs to the model: `from_config` / `preset_config` give the same weights
as the trainer, a fresh head starts above its final ReLU, and such a model trains."""

import torch


def _state(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_the_trainer_builds_exactly_what_from_config_builds(tiny_recipe):
    from transformers import AutoModelForDepthEstimation

    from ma_vlm.pretrain.model_factory import build_model

    torch.manual_seed(0)
    trainer_model = build_model(tiny_recipe.model)
    torch.manual_seed(0)
    auto_model = AutoModelForDepthEstimation.from_config(trainer_model.config)
    ours, theirs = _state(trainer_model), _state(auto_model)
    assert ours.keys() == theirs.keys()
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)


def test_a_fresh_model_starts_at_a_plausible_depth_and_its_loss_falls(tiny_model_config):
    from ma_vlm.models.metric_anything import MetricAnythingForDepthEstimation
    from ma_vlm.pretrain.distill import capture_head_pre_activation
    from ma_vlm.pretrain.losses import DepthLoss

    for seed in (0, 1, 2):
        torch.manual_seed(seed)
        model = MetricAnythingForDepthEstimation(tiny_model_config)
        size = tiny_model_config.image_size
        pixels = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(seed))
        with capture_head_pre_activation(model) as captured:
            model(pixels, focal_length_px=float(size))
        # Every pixel starts at the configured canonical inverse depth, above the final ReLU.
        assert torch.allclose(captured["pre_activation"], torch.tensor(0.5))
        # Residual units start as identities; the neck/decoder convs are not torch's shrinking default.
        unit = model.decoder.fusions[0].resnet2.residual
        # He (std 1/sqrt(fan_in)) rather than torch's default (1/sqrt(3 fan_in)).
        assert unit[-1].weight.abs().max() == 0
        assert unit[1].weight.std() > 0.8 / unit[1].weight[0].numel() ** 0.5
    # A scene: a slanted plane 4-8 m away (the init predicts 2 m); 8 Adam steps must reduce the loss.
    target = torch.linspace(4.0, 8.0, size).view(1, size, 1).expand(2, size, size)
    loss_fn, optimizer = DepthLoss(), torch.optim.AdamW(model.parameters(), 3e-3)
    losses = []
    for _ in range(8):
        loss = loss_fn(model(pixels, focal_length_px=float(size)).inverse_depth, target, target > 0)["loss"]
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    assert losses[-1] < 0.92 * losses[0], losses


def test_loading_weights_does_not_reinitialise_them(tmp_path, tiny_model_config):
    from ma_vlm.models.metric_anything import MetricAnythingForDepthEstimation

    model = MetricAnythingForDepthEstimation(tiny_model_config)
    with torch.no_grad():
        model.head[-2].weight.fill_(0.25)
    model.save_pretrained(tmp_path)
    loaded = MetricAnythingForDepthEstimation.from_pretrained(tmp_path)
    assert torch.equal(loaded.head[-2].weight, model.head[-2].weight)
