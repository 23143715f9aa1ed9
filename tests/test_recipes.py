"""The one recipe loader: depth pretraining and the spatial MLLM read YAML, `--set` and unknown
keys the same way, and an override is checked exactly like the same value in the file."""

import pytest

from ma_vlm.errors import MaVlmInputError
from ma_vlm.mllm.train import recipe_from_dict as mllm_recipe
from ma_vlm.pretrain.recipe import recipe_from_dict as depth_recipe


def test_set_overrides_are_typed_like_the_file():
    recipe = depth_recipe({"train": {"max_steps": 5}}, ["train.max_steps=3", "train.learning_rate=1.0e-4",
                                                        "data.sources={render: 1.0, sensor: 0.5}"])
    assert recipe.train.max_steps == 3 and recipe.train.learning_rate == 1e-4
    assert recipe.data.sources == {"render": 1.0, "sensor": 0.5}
    mllm = mllm_recipe({"train": {"max_steps": 60}}, ["train.max_steps=2", "lora.rank=4", "model.token_reduction=2"])
    assert mllm.train["max_steps"] == 2 and mllm.lora["rank"] == 4 and mllm.model.token_reduction == 2


@pytest.mark.parametrize("load", [depth_recipe, mllm_recipe], ids=["pretrain", "mllm"])
def test_both_loaders_name_a_typo_with_the_key_it_meant(load):
    with pytest.raises(MaVlmInputError, match=r"\['max_step'\] in recipe section 'train' \(did you mean max_steps\?\)"):
        load({}, ["train.max_step=3"])
    with pytest.raises(MaVlmInputError, match=r"no section 'trian' \(did you mean train\?\)"):
        load({}, ["trian.max_steps=3"])
    with pytest.raises(MaVlmInputError, match="write it with a dot"):
        load({"train": {"learning_rate": "1e-4"}})
    with pytest.raises(MaVlmInputError, match="SECTION.KEY=VALUE"):
        load({}, ["max_steps=3"])


def test_mllm_train_keys_are_training_arguments_fields_with_ranges():
    assert mllm_recipe({"train": {"bf16": "auto", "report_to": []}}).train["bf16"] == "auto"
    with pytest.raises(MaVlmInputError, match="train.per_device_train_batch_size must be >= 1, got 0"):
        mllm_recipe({}, ["train.per_device_train_batch_size=0"])
    with pytest.raises(MaVlmInputError, match="train.seed must be int"):
        mllm_recipe({}, ["train.seed=first"])
    with pytest.raises(MaVlmInputError, match="set by --output"):
        mllm_recipe({"train": {"output_dir": "elsewhere"}})
