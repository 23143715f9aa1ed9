"""How much of a prompt-free model's error is its metric scale? Per scene layout, on held-out renders:

- the model as it is;
- the model with each image's true median depth given (its shape only: `abs_rel_median_scaled`);
- the model rescaled to its layout's typical scale: the mean over the training renders of that
  layout of log(fx / (W * median depth)), i.e. what a model that told rooms, streets and
  tabletops apart perfectly, but knew nothing more about scale, could reach with this shape;
- the median oracle (each image's true median depth everywhere).

    python experiments/student_scale_bound.py --model outputs/pretrain-small/student/model \
        --train outputs/pretrain-small/data --heldout outputs/pretrain-small/heldout

The layout is the last part of a generated scene_id (`s1000-00000000-tabletop`).
"""

import argparse
from collections import defaultdict

import numpy as np
from tqdm import tqdm

from ma_vlm.benchmarks.depth.baselines import MedianOracle
from ma_vlm.benchmarks.depth.metrics import depth_metrics
from ma_vlm.data.loading import load_rgbd_dataset
from ma_vlm.data.schema import decode_record
from ma_vlm.depth.inference import load_depth_model, predict_metric_depth
from ma_vlm.errors import MaVlmInputError
from ma_vlm.models.metric_anything import MetricAnythingImageProcessor


def records(folder: str, renders_only: bool = False):
    """(layout, record, valid depth mask) for each row of a generated dataset folder."""
    for row in load_rgbd_dataset(folder):
        if renders_only and row["source"] != "render":
            continue
        record = decode_record(row)
        depth = np.asarray(record["depth"])
        valid = (depth > 0) & np.isfinite(depth)
        if valid.any():  # an image without valid depth scores nothing (as in `ma-vlm eval depth`)
            yield (row.get("scene_id") or "unknown").rsplit("-", 1)[-1], record, valid


def log_canonical_median(record, valid) -> float:
    """log(fx / (W * median depth)): the image's scale in the head's units (canonical inverse depth)."""
    depth = np.asarray(record["depth"])
    return float(np.log(record["intrinsics"][0] / (depth.shape[1] * np.median(depth[valid]))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--train", required=True, help="the training data folder (its renders give each layout's scale)")
    parser.add_argument("--heldout", required=True)
    args = parser.parse_args()

    model = load_depth_model(args.model)
    processor = MetricAnythingImageProcessor.from_pretrained(args.model)
    layout_scales = defaultdict(list)
    for layout, record, valid in tqdm(list(records(args.train, renders_only=True)), desc="layout scales"):
        layout_scales[layout].append(log_canonical_median(record, valid))
    if not layout_scales:
        raise MaVlmInputError(f"--train {args.train} has no rendered rows with valid depth (source 'render'); "
                              "give a `ma-vlm data generate` folder")
    typical = {layout: float(np.mean(values)) for layout, values in layout_scales.items()}

    scores = defaultdict(lambda: defaultdict(list))
    for layout, record, valid in tqdm(list(records(args.heldout)), desc="held-out"):
        truth = np.asarray(record["depth"])
        predicted = predict_metric_depth(model, processor, np.asarray(record["image"]),
                                         intrinsics=record["intrinsics"])
        model_metrics = depth_metrics(predicted, truth)  # as `ma-vlm eval depth` scores it
        typical_median = record["intrinsics"][0] / (
            truth.shape[1] * np.exp(typical.get(layout, np.mean(list(typical.values())))))
        at_typical = predicted * (typical_median / np.median(predicted[valid]))
        oracle = MedianOracle()(None, None, None, ground_truth=truth)
        for name, abs_rel in (
            ("model", model_metrics["abs_rel"]),
            ("model, true median given", model_metrics["abs_rel_median_scaled"]),
            ("model, its layout's typical scale", depth_metrics(at_typical, truth)["abs_rel"]),
            ("median oracle", depth_metrics(oracle, truth)["abs_rel"]),
        ):
            scores[name][layout].append(abs_rel)

    if not scores:
        raise MaVlmInputError(f"--heldout {args.heldout} has no rows with valid depth to score")
    layouts = sorted({layout for per_layout in scores.values() for layout in per_layout})
    counts = {layout: len(scores["model"][layout]) for layout in layouts}
    print("| AbsRel | all | " + " | ".join(f"{layout} ({counts[layout]})" for layout in layouts) + " |")
    print("|---" * (len(layouts) + 2) + "|")
    for name, per_layout in scores.items():
        overall = np.mean([value for values in per_layout.values() for value in values])
        print(f"| {name} | {overall:.3f} | " + " | ".join(f"{np.mean(per_layout[layout]):.3f}" for layout in layouts) + " |")
    print("\nlog canonical scale of the training renders, mean ± sd: "
          + ", ".join(f"{layout} {np.mean(v):.2f} ± {np.std(v):.2f} ({len(v)})" for layout, v in sorted(layout_scales.items())))


if __name__ == "__main__":
    try:
        main()
    except MaVlmInputError as error:  # a wrong folder: the message names it and the fix
        raise SystemExit(f"error: {error}") from None
