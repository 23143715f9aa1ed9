#!/usr/bin/env bash
# The main job (`make demo`): an honest end-to-end run on this CPU in a few minutes.
#  1. pretrain the tiny prompt-based teacher on rendered, noisy-source RGB-D data (recipe file)
#  2. render held-out scenes under cameras the run did not see
#  3. score the teacher with sparse metric prompts against the interpolation baseline
#  4. distil a prompt-free student from the teacher and score it without prompts
#  5. `ma-vlm depth` on a held-out image: metres (.npy), colour map (.png), point cloud (.ply),
#     without a prompt and completing a lidar:64 prompt
#  6. with CHECKPOINT=/path/student_depthmap.pt: convert the official weights and run them too
set -euo pipefail
cd "$(dirname "$0")/.."
export MUJOCO_GL="${MUJOCO_GL:-egl}"
OUT="${OUT:-outputs/demo}"
MA=".venv/bin/ma-vlm"
PY=".venv/bin/python"
mkdir -p "$OUT"

echo "== 1. pretrain the tiny teacher (recipes/pretrain_teacher_tiny.yaml; re-running resumes)"
$MA pretrain --recipe recipes/pretrain_teacher_tiny.yaml --output "$OUT/teacher"

echo "== 2. held-out scenes (seed 1000, cameras from a 1,000-model zoo; training saw 16)"
if [ ! -f "$OUT/heldout/generation.json" ]; then
  rm -rf "$OUT/heldout"
  $MA data generate --output "$OUT/heldout" --scenes 24 --seed 1000 --camera-models 1000 --max-side 96 --min-side 80
fi

echo "== 3. depth metrics on held-out scenes"
for prompt in uniform:0.01 grid:8 lidar:64; do
  $MA eval depth --model "$OUT/teacher/model" --data "$OUT/heldout" --prompt "$prompt" \
    --output "$OUT/eval/teacher_${prompt/:/_}.json"
  $MA eval depth --model baseline:linear --data "$OUT/heldout" --prompt "$prompt" \
    --output "$OUT/eval/baseline_linear_${prompt/:/_}.json"
done
$MA eval depth --model "$OUT/teacher/model" --data "$OUT/heldout" --prompt none --output "$OUT/eval/teacher_none.json"

echo "== 4. distil a prompt-free student (recipes/distill_student_tiny.yaml) and score it without prompts"
$MA distill --recipe recipes/distill_student_tiny.yaml --teacher "$OUT/teacher/model" --data "$OUT/teacher/data" \
  --output "$OUT/student"
$MA eval depth --model "$OUT/student/model" --data "$OUT/heldout" --prompt none --output "$OUT/eval/student_none.json"
$PY scripts/summarize_depth_eval.py "$OUT/eval" | tee "$OUT/eval/summary.md"

echo "== 5. ma-vlm depth on a held-out image (focal length from its <stem>.json)"
$PY - "$OUT" <<'PYEOF'
import json, sys
from pathlib import Path
from PIL import Image
from ma_vlm.data.loading import load_rgbd_dataset
from ma_vlm.data.schema import decode_record
out = Path(sys.argv[1]) / "images"
out.mkdir(parents=True, exist_ok=True)
import numpy as np
from ma_vlm.data.sparse_prompts import parse_prompt_spec
record = decode_record(load_rgbd_dataset(Path(sys.argv[1]) / "heldout")[0])
Image.fromarray(record["image"]).save(out / "heldout_0.png")
(out / "heldout_0.json").write_text(json.dumps({"cam_in": [float(v) for v in record["intrinsics"]]}))
prompt = parse_prompt_spec("lidar:64")(record["depth"], np.random.default_rng(0))  # metres, 0 = missing
np.save(out / "heldout_0_prompt_lidar64.npy", prompt.astype(np.float32))
PYEOF
$MA depth "$OUT/images/heldout_0.png" --model "$OUT/teacher/model" --output "$OUT/depth"
$MA depth "$OUT/images/heldout_0.png" --model "$OUT/teacher/model" --output "$OUT/depth_completion" \
  --prompt-depth "$OUT/images/heldout_0_prompt_lidar64.npy"

if [ -n "${CHECKPOINT:-}" ]; then
  echo "== 6. official checkpoint: convert and run"
  $MA convert "$CHECKPOINT" "$OUT/official" --overwrite
  images=("$OUT/images/heldout_0.png")
  for example in ../shared/reference/examples/*.png; do [ -f "$example" ] && images+=("$example"); done
  $MA depth "${images[@]}" --model "$OUT/official" --output "$OUT/official_depth"
fi
echo "demo outputs in $OUT (loss curve: $OUT/teacher/, metrics: $OUT/eval/summary.md, depth: $OUT/depth/ and $OUT/depth_completion/)"
