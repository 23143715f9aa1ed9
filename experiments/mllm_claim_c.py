"""The paper's claim (c) in miniature: does a depth-pretrained tower help an MLLM on spatial QA?

SmolLM2-135M-Instruct + LoRA trained on SynthSpatial's train split (`ma-vlm data llava`
output) and scored on its test split with the VSI-style scorer, per question type, for:
  depth    (a) the depth-pretrained tower (--tower FOLDER)
  random   (b) the same architecture as --tower, randomly initialised (no depth pretraining)
  noimage  (d) no image at all, in training and at test time (what language priors give)
Each variant runs with every seed (seeds the projector/tower init and the data order).

    python experiments/mllm_claim_c.py --recipe recipes/mllm_lora_tiny.yaml \\
        --llava runs/ss/llava/train.jsonl --synthspatial runs/ss/synthspatial \\
        --tower runs/student_small/model --variants depth random noimage --seeds 0 1 --output runs/claim_c

Writes OUTPUT/<variant>-s<seed>/ (run folder, report.json) and OUTPUT/claim_c.md + .csv;
a rerun skips the runs that already have a report.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

VARIANTS = ("depth", "random", "noimage")


class TextOnlyGenerator:
    """Asks the benchmark's questions without their images."""

    def __init__(self, generator):
        self.generator = generator

    def generate(self, batch, max_new_tokens):
        return self.generator.generate([([], text) for _, text in batch], max_new_tokens)


def run_one(args, variant: str, seed: int) -> dict:
    from ma_vlm.atomic_io import write_json_atomic
    from ma_vlm.benchmarks.spatial.io import read_jsonl
    from ma_vlm.benchmarks.spatial.registry import get_benchmark
    from ma_vlm.benchmarks.spatial.runner import ImageTextGenerator, run_benchmark
    from ma_vlm.benchmarks.spatial.scoring import score_items
    from ma_vlm.mllm.train import load_recipe, train_mllm

    folder = Path(args.output) / f"{variant}-s{seed}"
    report_path = folder / "report.json"
    if report_path.exists():
        return json.loads(report_path.read_text())
    recipe = load_recipe(args.recipe, args.set)
    recipe.data.train = args.llava
    recipe.model.seed = seed
    recipe.model.tower = args.tower if variant == "depth" else None
    if variant != "depth" and args.tower:  # the control: the same architecture, random weights
        recipe.model.tower_preset = args.tower
    recipe.data.use_images = variant != "noimage"
    recipe.train.update(seed=seed, data_seed=seed, max_steps=args.steps, save_steps=args.steps)
    model_folder = train_mllm(recipe, str(folder))
    generator = ImageTextGenerator(model_folder, device="cpu", dtype="float32")
    if variant == "noimage":
        generator = TextOnlyGenerator(generator)
    benchmark = get_benchmark("synthspatial")
    run_benchmark(benchmark, generator, str(folder / "predictions.jsonl"), data=args.synthspatial,
                  split="test", batch_size=8, limit=args.limit)  # fmt: skip
    report = score_items("synthspatial", read_jsonl(str(folder / "predictions.jsonl")))
    report.update(variant=variant, seed=seed, steps=args.steps, tower=recipe.model.tower)
    write_json_atomic(report_path, report)
    for bulky in ("base", "model", "adapter"):  # keep the report and predictions, not 0.5 GB per run
        if not args.keep_models:
            shutil.rmtree(folder / bulky, ignore_errors=True)
    return report


def table(reports: list[dict]) -> tuple[str, str]:
    """Markdown (mean ± spread over seeds, percent) and CSV (one row per run)."""
    import numpy as np

    keys = sorted({k for r in reports for k in r["scores"] if not k.endswith("_unparseable")},
                  key=lambda k: (k != "overall", k))  # fmt: skip
    variants = [v for v in VARIANTS if any(r["variant"] == v for r in reports)]
    lines = ["| score | " + " | ".join(variants) + " |", "|---|" + "---|" * len(variants)]
    for key in keys:
        cells = []
        for variant in variants:
            values = [100 * r["scores"][key] for r in reports if r["variant"] == variant and key in r["scores"]]
            cells.append(f"{np.mean(values):.1f} ± {np.std(values):.1f} (n={len(values)})" if values else "-")
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    csv = ["variant,seed," + ",".join(keys)]
    for r in reports:
        csv.append(f"{r['variant']},{r['seed']}," + ",".join(f"{r['scores'].get(k, float('nan')):.4f}" for k in keys))
    return "\n".join(lines), "\n".join(csv) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", default="recipes/mllm_lora_tiny.yaml")
    parser.add_argument("--llava", required=True, help="SynthSpatial train split in LLaVA format (ma-vlm data llava)")
    parser.add_argument("--synthspatial", required=True, help="SynthSpatial folder (test split is scored)")
    parser.add_argument("--tower", default=None, help="depth-pretrained tower folder for the 'depth' variant")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--limit", type=int, default=None, help="score at most this many test questions")
    parser.add_argument("--keep-models", action="store_true")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="recipe override for every run, as in `ma-vlm train mllm --set`")
    parser.add_argument("--output", required=True)
    args = parser.parse_args()
    if "depth" in args.variants and not args.tower:
        parser.error("the 'depth' variant needs --tower FOLDER (a depth-pretrained tower)")
    from ma_vlm.atomic_io import write_text_atomic

    reports = [run_one(args, variant, seed) for variant in args.variants for seed in args.seeds]
    reports += [json.loads(p.read_text()) for p in Path(args.output).glob("*/report.json")
                if not any(p.parent.name == f"{r['variant']}-s{r['seed']}" for r in reports)]  # fmt: skip
    markdown, csv = table(reports)
    write_text_atomic(Path(args.output) / "claim_c.md", markdown + "\n")
    write_text_atomic(Path(args.output) / "claim_c.csv", csv)
    print(markdown)


if __name__ == "__main__":
    main()
