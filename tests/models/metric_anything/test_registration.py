"""`import ma_vlm` alone is enough for Transformers' Auto classes and LLaVA, in a fresh process."""

import subprocess
import sys

import torch
from transformers import LlamaConfig, LlavaConfig, LlavaForConditionalGeneration

from ma_vlm.models.metric_anything import preset_config

LOAD = """
import sys
import ma_vlm  # the only ma_vlm import: it must register metric_anything
from transformers import AutoConfig, AutoImageProcessor, AutoModelForDepthEstimation, LlavaForConditionalGeneration
depth_folder, llava_folder = sys.argv[1:]
print(type(AutoConfig.from_pretrained(depth_folder)).__name__,
      type(AutoModelForDepthEstimation.from_pretrained(depth_folder)).__name__,
      type(AutoImageProcessor.from_pretrained(depth_folder)).__name__,
      type(LlavaForConditionalGeneration.from_pretrained(llava_folder).model.vision_tower).__name__)
"""


def test_import_ma_vlm_alone_loads_saved_folders_through_auto_classes_and_llava(tiny_model_dir, tmp_path):
    text = LlamaConfig(vocab_size=64, hidden_size=48, intermediate_size=96, num_hidden_layers=1,
                       num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128)
    torch.manual_seed(0)
    LlavaForConditionalGeneration(LlavaConfig(vision_config=preset_config("tiny"), text_config=text,
                                              image_token_id=7)).save_pretrained(tmp_path / "llava")
    result = subprocess.run([sys.executable, "-c", LOAD, str(tiny_model_dir), str(tmp_path / "llava")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split()[-4:] == ["MetricAnythingConfig", "MetricAnythingForDepthEstimation",
                                          "MetricAnythingImageProcessor", "MetricAnythingModel"]
