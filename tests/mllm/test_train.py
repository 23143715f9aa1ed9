"""`ma-vlm train mllm`: loss on assistant turns only, a tiny run whose output `ma-vlm chat`
answers from, and bit-exact resumption after kill -9."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from ma_vlm.mllm.data import IGNORE_INDEX, to_messages, tokenize_conversation

ROOT = Path(__file__).resolve().parents[2]


def ma_vlm(*args, **kwargs):
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return subprocess.Popen([sys.executable, "-m", "ma_vlm.cli", *args], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs)  # fmt: skip


def test_loss_is_on_assistant_turns_only(build_tiny):
    _, processor = build_tiny()
    conversations = [{"from": "human", "value": "<image>\nHow far?"}, {"from": "gpt", "value": "2.5 metres"},
                     {"from": "human", "value": "And the lamp?"}, {"from": "gpt", "value": "1.2"}]  # fmt: skip
    input_ids, labels = tokenize_conversation(processor, to_messages(conversations, has_image=True), 512)
    trained = processor.tokenizer.decode([token for token, label in zip(input_ids, labels) if label != IGNORE_INDEX])
    assert trained == "2.5 metres<|im_end|>\n1.2<|im_end|>\n"
    assert input_ids.count(processor.image_token_id) == processor.num_image_tokens
    whole = processor.apply_chat_template(to_messages(conversations, has_image=True), tokenize=False)
    expanded = whole.replace("<image>", "<image>" * processor.num_image_tokens)
    assert processor.tokenizer(expanded, add_special_tokens=False)["input_ids"] == input_ids


def final_weights(folder):
    return load_file(str(Path(folder) / "adapter" / "adapter_model.safetensors"))


@pytest.mark.timeout(900)
def test_tiny_run_chat_and_resume_after_kill_9(tmp_path, tiny_llm_folder, llava_jsonl, write_recipe, capsys):
    """The straight run, chat and the resumed run go through the CLI in this process (isolated
    runs, so that is what a fresh process gives); only the killed run needs a process of its own."""
    from ma_vlm.cli import main

    recipe = write_recipe(tmp_path / "recipe.yaml", tiny_llm_folder, llava_jsonl, output_steps=6)
    straight = tmp_path / "straight"
    assert main(["train", "mllm", "--recipe", recipe, "--output", str(straight)]) == 0
    capsys.readouterr()
    assert main(["chat", "--model", str(straight / "model"), "--image", str(Path(llava_jsonl).parent / "images/0.png"),
                 "--max-new-tokens", "3", "Is the room dark or bright?"]) == 0  # fmt: skip
    assert capsys.readouterr().out.count("\n") == 1  # the answer's line (a 6-step random model may say nothing)

    killed = tmp_path / "killed"
    process = ma_vlm("train", "mllm", "--recipe", recipe, "--output", str(killed), start_new_session=True)
    deadline = time.time() + 600
    while not (killed / "checkpoint-4" / "trainer_state.json").exists() and time.time() < deadline:
        assert process.poll() is None, process.stdout.read()
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not (killed / "model").exists()
    assert main(["train", "mllm", "--recipe", recipe, "--output", str(killed)]) == 0
    assert "model ->" in capsys.readouterr().out
    for name, value in final_weights(straight).items():
        torch.testing.assert_close(final_weights(killed)[name], value, rtol=0, atol=0, msg=name)


def test_resume_skips_a_checkpoint_cut_off_while_being_written(tmp_path):
    from ma_vlm.mllm.train import _resume_point

    assert _resume_point(str(tmp_path / "not-yet")) is None
    for step, state in [(2, '{"global_step": 2}'), (4, '{"global_step": 4}'), (6, None), (8, '{"global_st')]:
        folder = tmp_path / f"checkpoint-{step}"
        folder.mkdir()
        (folder / "adapter_model.safetensors").write_bytes(b"partial")
        if state is not None:
            (folder / "trainer_state.json").write_text(state)
    assert _resume_point(str(tmp_path)) == str(tmp_path / "checkpoint-4")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["checkpoint-2", "checkpoint-4"]


def test_smollm2_tokenizer_survives_save_and_load(smollm2_tokenizer_folder, tmp_path):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(smollm2_tokenizer_folder)
    tokenizer.save_pretrained(tmp_path)
    again = AutoTokenizer.from_pretrained(tmp_path)
    assert again("2.5 metres\n", add_special_tokens=False)["input_ids"] == [34, 30, 37, 13897, 198]
