#!/usr/bin/env bash
# Score `make pretrain-small`'s models with `ma-vlm eval depth` on held-out scenes (seed 1000, cameras
# from a 1,000-model zoo; training saw 64) beside the baselines: Delaunay-linear interpolation of
# the same prompt, and the per-image median oracle for the prompt-free student.
#   TEACHER=... STUDENT=... bash scripts/eval_pretrain_small.sh   (defaults: outputs/pretrain-small/*/model)
set -euo pipefail
cd "$(dirname "$0")/.."
export MUJOCO_GL="${MUJOCO_GL:-egl}"
OUT="${OUT:-outputs/pretrain-small}"
MA="${MA:-.venv/bin/ma-vlm}"
TEACHER="${TEACHER:-$OUT/teacher/model}"
STUDENT="${STUDENT:-$OUT/student/model}"
PROMPTS="${PROMPTS:-uniform:0.001 grid:16 lowres:8 lowres:16 lidar:64}"
if [ ! -f "$OUT/heldout/complete.json" ]; then
  rm -rf "$OUT/heldout"
  $MA data generate --output "$OUT/heldout" --scenes 32 --seed 1000 --camera-models 1000 --max-side 96 --min-side 80
fi
mkdir -p "$OUT/eval"
run() {  # model prompt name
  [ -f "$OUT/eval/$3.json" ] || $MA eval depth --model "$1" --data "$OUT/heldout" --prompt "$2" --output "$OUT/eval/$3.json"
}
for prompt in $PROMPTS; do
  run baseline:linear "$prompt" "baseline_linear_${prompt/:/_}"
  if [ -d "$TEACHER" ]; then run "$TEACHER" "$prompt" "teacher_${prompt/:/_}"; fi
done
run baseline:median_oracle none baseline_median_oracle_none
if [ -d "$STUDENT" ]; then run "$STUDENT" none student_none; fi
if [ -d "$TEACHER" ]; then run "$TEACHER" none teacher_none; fi
${PY:-.venv/bin/python} scripts/summarize_depth_eval.py "$OUT/eval" | tee "$OUT/eval/summary.md"
