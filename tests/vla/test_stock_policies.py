"""LeRobot's stock policies on a dataset written by `ma-vlm vla demos --no-depth`, by the command
docs/vla_lerobot.md gives. With depth recorded, LeRobot counts `observation.depth.<camera>` as a
second camera (ACT gets a 1-channel image, VQBeT refuses two images)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ID = "local/metaworld_ma_vla"


@pytest.fixture(scope="module")
def no_depth_root(tmp_path_factory):
    from ma_vlm.cli import main

    root = tmp_path_factory.mktemp("stock") / "mw"
    argv = ["vla", "demos", "--tasks", "reach-v3", "--episodes", "1", "--root", str(root), "--image-size", "64",
            "--max-steps", "8", "--no-depth"]
    assert main(argv) == 0
    return root


def test_no_depth_dataset_records_rgb_state_and_action_only(no_depth_root):
    features = json.loads((no_depth_root / "meta" / "info.json").read_text())["features"]
    assert "observation.images.corner4" in features and "observation.state" in features and "action" in features
    assert not [key for key in features if key.startswith("observation.depth.")]


def test_stock_act_trains_two_steps_with_lerobot_train(no_depth_root, tmp_path):
    # the documented command; the size flags shrink ACT (same code) and the backbone starts random (offline)
    command = [str(Path(sys.executable).parent / "lerobot-train"), "--policy.type=act",
               f"--dataset.repo_id={REPO_ID}", f"--dataset.root={no_depth_root}", "--policy.device=cpu",
               "--policy.push_to_hub=false", "--wandb.enable=false", "--batch_size=2", "--steps=2",
               "--num_workers=0", "--log_freq=1", "--save_checkpoint=false", f"--output_dir={tmp_path / 'act'}",
               "--policy.pretrained_backbone_weights=null", "--policy.dim_model=32", "--policy.dim_feedforward=64",
               "--policy.n_heads=2", "--policy.n_encoder_layers=1", "--policy.n_vae_encoder_layers=1",
               "--policy.chunk_size=4", "--policy.n_action_steps=4"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    assert "step:2 " in log and "End of training" in log


def test_vqbet_takes_the_no_depth_dataset_and_refuses_the_depth_one(no_depth_root, demo_root):
    from lerobot.datasets.lerobot_dataset import LeRobotDatasetMetadata
    from lerobot.policies.factory import make_policy, make_policy_config

    offline = dict(device="cpu", crop_shape=None, pretrained_backbone_weights=None)  # no download
    make_policy(make_policy_config("vqbet", **offline), ds_meta=LeRobotDatasetMetadata(REPO_ID, root=no_depth_root))
    with pytest.raises(ValueError, match="image"):
        make_policy(make_policy_config("vqbet", **offline), ds_meta=LeRobotDatasetMetadata(REPO_ID, root=demo_root))


def test_act_on_a_depth_dataset_with_the_input_features_override(demo_root):
    """Without re-recording: `--policy.input_features` names the camera and the state, so ACT leaves
    the depth map out (the flag as lerobot-train parses it)."""
    import draccus
    import torch
    from lerobot.datasets.factory import resolve_delta_timestamps
    from lerobot.datasets.lerobot_dataset import LeRobotDataset, LeRobotDatasetMetadata
    from lerobot.policies.act.configuration_act import ACTConfig
    from lerobot.policies.factory import make_policy, make_pre_post_processors

    features = ('{"observation.images.corner4": {"type": "VISUAL", "shape": [3, 32, 32]}, '
                '"observation.state": {"type": "STATE", "shape": [4]}}')
    config = draccus.parse(ACTConfig, args=[f"--input_features={features}", "--device=cpu",
                                            "--pretrained_backbone_weights=null", "--dim_model=32",
                                            "--dim_feedforward=64", "--n_heads=2", "--n_encoder_layers=1",
                                            "--chunk_size=4", "--n_action_steps=4"])
    meta = LeRobotDatasetMetadata(REPO_ID, root=demo_root)
    assert "observation.depth.corner4" in meta.features
    policy = make_policy(config, ds_meta=meta)
    assert list(config.image_features) == ["observation.images.corner4"]
    pre, _ = make_pre_post_processors(config, dataset_stats=meta.stats)
    dataset = LeRobotDataset(REPO_ID, root=demo_root, delta_timestamps=resolve_delta_timestamps(config, meta))
    loss, _ = policy.forward(pre(next(iter(torch.utils.data.DataLoader(dataset, batch_size=2)))))
    loss.backward()
    assert torch.isfinite(loss)
