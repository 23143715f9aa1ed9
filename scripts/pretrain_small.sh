#!/usr/bin/env bash
# `make pretrain-small`: render data, pretrain the prompt-based teacher, distil the prompt-free
# student; Transformers folders in outputs/pretrain-small/{teacher,student}/model/.
# Every step resumes: rendering is skipped once complete.json (written last) exists, a training run restarts
# from its last checkpoint, and a finished run (summary.json) returns at once.
# TEACHER_STEPS / STUDENT_STEPS override the recipes' max_steps (a shorter run in another OUT).
set -euo pipefail
cd "$(dirname "$0")/.."
export MUJOCO_GL="${MUJOCO_GL:-egl}"
OUT="${OUT:-outputs/pretrain-small}"
MA="${MA:-.venv/bin/ma-vlm}"
mkdir -p "$OUT"
start=$(date +%s)

echo "== 1/3 render 1024 training scenes (512 camera models)"
# A render made for another recipe (say 128 scenes before the recipe grew) is ours: render again.
if [ -f "$OUT/data/complete.json" ] && ! grep -q '"num_scenes": 1024,' "$OUT/data/generation.json" 2>/dev/null; then
  echo "   $OUT/data was rendered for another recipe; rendering again"
  rm -f "$OUT/data/complete.json"
fi
if [ ! -f "$OUT/data/complete.json" ]; then
  rm -rf "$OUT/data"
  $MA data generate --output "$OUT/data" --scenes 1024 --seed 0 --camera-models 512 --max-side 96 --min-side 80
fi
echo "== 2/3 pretrain the teacher (recipes/pretrain_teacher_small.yaml)"
$MA pretrain --recipe recipes/pretrain_teacher_small.yaml --data "$OUT/data" --output "$OUT/teacher" \
  ${TEACHER_STEPS:+--max-steps "$TEACHER_STEPS"}
echo "== 3/3 distil the prompt-free student (recipes/distill_student_small.yaml)"
$MA distill --recipe recipes/distill_student_small.yaml --teacher "$OUT/teacher/model" --data "$OUT/data" \
  --output "$OUT/student" ${STUDENT_STEPS:+--max-steps "$STUDENT_STEPS"}
echo "pretrain-small done in $(( $(date +%s) - start )) s: $OUT/teacher/model, $OUT/student/model"
