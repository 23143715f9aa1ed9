"""Markdown table of `ma-vlm eval depth` reports in a folder: one row per (model, prompt).

    python scripts/summarize_depth_eval.py RUN/eval > RUN/eval/summary.md
"""

import json
import sys
from pathlib import Path


def main(folder: str) -> None:
    rows = []
    for path in sorted(Path(folder).glob("*.json")):
        report = json.loads(path.read_text())
        metrics = report["metrics"]
        model = path.stem.rsplit("_", 2)[0] if report["prompt"] != "none" else path.stem.rsplit("_", 1)[0]
        rows.append((model, report["prompt"], report["num_images"], metrics["abs_rel"],
                     metrics.get("abs_rel_median_scaled", float("nan")), metrics["rmse"], metrics["delta1"]))
    print("| model | prompt | images | AbsRel | AbsRel, median-scaled | RMSE (m) | delta1 |")
    print("|---|---|---|---|---|---|---|")
    for model, prompt, count, abs_rel, scaled, rmse, delta1 in sorted(rows, key=lambda r: (r[1], r[0])):
        print(f"| {model} | {prompt} | {count} | {abs_rel:.4f} | {scaled:.4f} | {rmse:.3f} | {delta1:.3f} |")


if __name__ == "__main__":
    main(sys.argv[1])
