"""`ma-vlm scaling` end to end in miniature: teacher and student per data size and seed, the
baselines beside them, a table with mean ± std over seeds and a figure."""

import csv

import yaml

from ma_vlm.pretrain.recipe import load_recipe
from ma_vlm.pretrain.scaling import run_scaling, summarise

TINY_MODEL = {"preset": "tiny", "overrides": {
    "image_size": 256, "tile_overlaps": [0.0, 0.0], "backbone_config": {"image_size": 64},
    "tap_feature_dims": [8, 8, 8, 8], "level_feature_dims": [8, 8, 16], "decoder_hidden_size": 8,
    "head_hidden_size": 4, "prompt_alignment": "residual"}}
TRAIN = {"max_steps": 2, "batch_size": 1, "warmup_steps": 1, "save_every": 2}


def test_scaling_trains_teacher_and_student_per_size_and_seed(tmp_path):
    student = tmp_path / "student.yaml"
    student.write_text(yaml.safe_dump({
        "model": {"use_prompt": False, "init_from": "teacher"}, "data": {"sources": {"render": 1.0}},
        "distill": {"teacher_prompt": "grid:8"}, "train": TRAIN}))
    recipe_path = tmp_path / "scaling.yaml"
    recipe_path.write_text(yaml.safe_dump({
        "model": {**TINY_MODEL, "use_prompt": True},
        "data": {"generate": {"seed": 0, "camera_models": 4, "max_side": 48, "min_side": 40},
                 "sources": {"render": 1.0}, "prompt": "uniform:0.05"},
        "train": TRAIN,
        "scaling": {"scene_counts": [2, 3], "seeds": [0, 1], "student_recipe": str(student),
                    "eval_generate": {"scenes": 3, "seed": 1000, "camera_models": 1000, "max_side": 48, "min_side": 40},
                    "eval_prompts": ["none", "grid:8"]}}))
    table = run_scaling(load_recipe(recipe_path), tmp_path / "out")

    rows = list(csv.DictReader((tmp_path / "out" / "scaling.csv").open()))
    trained = {(r["scenes"], r["seed"], r["model"], r["prompt"]) for r in rows}
    for scenes in ("2", "3"):
        for seed in ("0", "1"):
            assert {(scenes, seed, "teacher", "none"), (scenes, seed, "teacher", "grid:8"),
                    (scenes, seed, "student", "none")} <= trained
            assert (tmp_path / "out" / "runs" / f"C4-N{scenes}-s{seed}" / "student" / "model" / "config.json").is_file()
    assert {("baseline:linear", "grid:8"), ("baseline:median_oracle", "none")} <= {(r["model"], r["prompt"]) for r in rows}
    summary = {(e["scenes"], e["model"], e["prompt"]): e for e in summarise(rows)}
    teacher = summary[("2", "teacher", "grid:8")]
    values = [float(r["abs_rel"]) for r in rows if (r["scenes"], r["model"], r["prompt"]) == ("2", "teacher", "grid:8")]
    assert teacher["seeds"] == 2 and abs(teacher["abs_rel"] - sum(values) / 2) < 1e-9
    assert "±" in table and "student" in table and (tmp_path / "out" / "scaling.png").stat().st_size > 0
