"""The bad-input catalogue: every command, one case per class of bad input.

Each case runs `ma_vlm.cli.main(argv)` in-process (cwd = a fresh workspace of user files) and
asserts what a user must see: exit code 2, a last stderr line `ma-vlm: error: ...` that names
the input, no Python traceback, and every file the user had before is still there, unchanged.

Adding a command (MLLM, VLA, point map ...) is one entry per class of input in `CASES`:

    Case("mllm caption", "missing image", lambda w: ["mllm", "caption", "nope.png", ...], "nope.png"),

`argv` gets the `Workspace` (`w.root`, `w.photo`, `w.model`, `w.teacher`, ... see below; build
files under `w.root` with its helpers) and `names` is the text the message must contain (a
string, or a function of the workspace). Only the arguments a case breaks need to be wrong.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from reliability_helpers import snapshot, write_photo

from ma_vlm.cli import main

REPO = Path(__file__).resolve().parents[2]


class Workspace:
    """A user's folder: a photo with its camera, models, a checkpoint, recipes, predictions."""

    def __init__(self, root: Path, model: Path, teacher: Path, nan_model: Path, checkpoint: Path,
                 pointmap_checkpoint: Path):
        self.root = root
        self.photo = write_photo(root / "photo.png")
        self.model, self.teacher, self.nan_model = model, teacher, nan_model
        self.checkpoint = root / "student_depthmap.pt"
        shutil.copy(checkpoint, self.checkpoint)
        self._pointmap_checkpoint = pointmap_checkpoint
        (root / "notes.txt").write_text("the user's notes\n")
        (root / "runs").mkdir()

    def busy_port(self) -> int:
        """A local port another program listens on (kept open while the workspace lives)."""
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen()
        return self._listener.getsockname()[1]

    def file(self, name: str, content: str | bytes) -> str:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        return name

    def npy(self, name: str, array: np.ndarray) -> str:
        np.save(self.root / name, array)
        return name

    def recipe(self, name: str, **sections) -> str:
        """A recipe YAML: the tiny teacher recipe with `sections` merged in (raw YAML if a str)."""
        import yaml

        base = {"model": {"preset": "tiny", "overrides": {"image_size": 256, "tile_overlaps": [0.0, 0.0],
                                                          "backbone_config": {"image_size": 64}}},
                "data": {"path": "rgbd"}, "train": {"max_steps": 2, "batch_size": 1}}
        for section, values in sections.items():
            base[section] = {**base.get(section, {}), **values}
        return self.file(name, yaml.safe_dump(base))

    def bomb(self, name: str, side: int = 20000) -> str:
        """A PNG whose header says side x side pixels (a decompression bomb; no pixel data)."""
        def chunk(kind: bytes, data: bytes) -> bytes:
            return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

        header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
        return self.file(name, b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                         + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))

    def depth_folder(self, name: str, depth_dtype=np.uint16, cam_in=(60, 60, 32, 24)) -> str:
        """An eval-depth folder: <stem>.png, <stem>_depth.png, <stem>.json."""
        folder = self.root / name
        write_photo(folder / "a.png", focal_length_px=None)
        (folder / "a.json").write_text(json.dumps({"cam_in": list(cam_in)}))
        Image.fromarray(np.full((48, 64), 200, depth_dtype)).save(folder / "a_depth.png")
        return name

    def killed_render(self, name: str) -> str:
        """What a render killed after its first shard leaves (shard 1 of 3, no complete.json)."""
        self.file(f"{name}/data/train-00000-of-00003.parquet", b"PAR1 partial")
        return name

    def unmarked_rgbd(self, name: str) -> str:
        """An RGB-D folder as a Hub download looks: one shard, no complete.json."""
        self.file(f"{name}/data/train-00000-of-00001.parquet", b"PAR1 shard")
        return name

    def interrupted_synthspatial(self, name: str) -> str:
        """What a SynthSpatial build stopped after its first split leaves (no card, no complete.json)."""
        self.file(f"{name}/data/test-00000-of-00001.parquet", b"PAR1 split")
        return name

    def truncated_model(self, name: str) -> str:
        """A copy of the tiny model folder whose model.safetensors lost its second half."""
        shutil.copytree(self.model, self.root / name)
        weights = self.root / name / "model.safetensors"
        weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
        return name

    def model_without(self, name: str, missing: str) -> str:
        """A copy of the tiny model folder without the file `missing`."""
        shutil.copytree(self.model, self.root / name)
        (self.root / name / missing).unlink()
        return name

    def pointmap_checkpoint(self, name: str = "student_pointmap.pt") -> str:
        """A tiny official-format Student-PointMap `.pt` at `name` (which may name a sub-folder)."""
        (self.root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(self._pointmap_checkpoint, self.root / name)
        return name

    def pickled_model(self, name: str) -> str:
        """A copy of the tiny model folder whose weights are a pickle (pytorch_model.bin) instead."""
        shutil.copytree(self.model, self.root / name)
        (self.root / name / "model.safetensors").unlink()
        self.file(f"{name}/pytorch_model.bin", b"\x80\x04K\x01.")  # pickle protocol 4 of the int 1
        return name

    def retyped_model(self, name: str, model_type: str) -> str:
        """A copy of the tiny model folder whose config.json names another model_type."""
        shutil.copytree(self.model, self.root / name)
        config = json.loads((self.root / name / "config.json").read_text())
        (self.root / name / "config.json").write_text(json.dumps({**config, "model_type": model_type}))
        return name

    def adapter_only(self, name: str) -> str:
        """What `ma-vlm train mllm` writes as OUTPUT/adapter: PEFT adapters, no config.json."""
        self.file(f"{name}/adapter_config.json", json.dumps({"peft_type": "LORA", "base_model_name_or_path": "../base"}))
        self.file(f"{name}/adapter_model.safetensors", b"\x02\x00\x00\x00\x00\x00\x00\x00{}")
        return name

    def jsonl(self, name: str, *rows) -> str:
        return self.file(name, "".join(json.dumps(r) + "\n" for r in rows))


@dataclass(frozen=True)
class Case:
    command: str  # as typed after `ma-vlm`
    kind: str  # the class of bad input
    argv: Callable[[Workspace], list[str]]
    names: str | Callable[[Workspace], str]  # the message must contain it

    def __str__(self) -> str:
        return f"{self.command}: {self.kind}"


def _depth(w: Workspace, *extra, images=("photo.png",), model=None) -> list[str]:
    return ["depth", *images, "--model", str(model or w.model), "--output", "out", *extra]


def _eval_depth(w: Workspace, *extra, data="folder", model="baseline:linear", output="report.json") -> list[str]:
    return ["eval", "depth", "--model", model, "--data", data, "--output", output, *extra]


def _pretrain(recipe: str, *extra) -> list[str]:
    return ["pretrain", "--recipe", recipe, "--output", "run", *extra]


def _scaling(w: Workspace, name: str, *extra, output="study", **sections) -> list[str]:
    """`ma-vlm scaling` on scaling_tiny.yaml's shape with `sections` merged in (each section's keys
    replace the base's)."""
    import yaml

    recipe = {"model": {"preset": "tiny"}, "data": {"generate": {"seed": 0, "camera_models": 4, "max_side": 96,
                                                                  "min_side": 80}},
              "train": {"max_steps": 2, "batch_size": 1},
              "scaling": {"scene_counts": [2, 4], "eval_prompts": ["none", "grid:8"],
                          "eval_generate": {"scenes": 2, "seed": 1000, "camera_models": 8, "max_side": 96,
                                            "min_side": 80}}}
    for section, values in sections.items():
        recipe[section] = {**recipe.get(section, {}), **values}
    return ["scaling", "--recipe", w.file(name, yaml.safe_dump(recipe)), "--output", output, *extra]


def _score(w: Workspace, predictions: str, benchmark="vsibench", output="scores.json") -> list[str]:
    return ["eval", "score", "--benchmark", benchmark, "--predictions", predictions, "--output", output]


def _train_mllm(w: Workspace, *sets: str, data: str | None = None) -> list[str]:
    """`ma-vlm train mllm` on the tiny recipe and a one-item LLaVA file, with `--set` overrides."""
    data = data or w.jsonl("llava.jsonl", {"conversations": [{"from": "human", "value": "hi"},
                                                             {"from": "gpt", "value": "hello"}]})
    argv = ["train", "mllm", "--recipe", str(REPO / "recipes" / "mllm_lora_tiny.yaml"), "--output", "o",
            "--set", f"data.train={data}"]
    return argv + [word for override in sets for word in ("--set", override)]


def _retype(w: Workspace, name: str, model_type: str) -> str:
    config_path = w.root / name / "config.json"
    config_path.write_text(json.dumps({**json.loads(config_path.read_text()), "model_type": model_type}))
    return name


def _chat(w: Workspace, *extra, model=None, question="How far is the chair?") -> list[str]:
    return ["chat", "--model", str(model or w.model), "--image", "photo.png", *extra, question]


COUNT = {"question_type": "object_counting", "ground_truth": "3", "prediction": "3"}

CASES = [
    # ------------------------------------------------------------------ convert
    Case("convert", "missing checkpoint", lambda w: ["convert", "nope.pt", "out"], "nope.pt"),
    Case("convert", "mistyped local path (not sent to the Hub)",
         lambda w: ["convert", "ckpts/student.pt", "out"], "ckpts/student.pt"),
    Case("convert", "truncated safetensors",
         lambda w: ["convert", w.file("cut.safetensors", b"\x10\x00\x00\x00\x00\x00\x00\x00{\"a\":"), "out"],
         "cut.safetensors"),
    Case("convert", "not a checkpoint", lambda w: ["convert", w.file("notes.pt", "hello"), "out"], "notes.pt"),
    Case("convert", "output is a file", lambda w: ["convert", str(w.checkpoint), "notes.txt"], "notes.txt"),
    Case("convert", "output holds the input",
         lambda w: ["convert", str(w.checkpoint), ".", "--overwrite"], "student_depthmap.pt"),
    Case("convert", "point map: output . holds the input",
         lambda w: ["convert", w.pointmap_checkpoint(), ".", "--overwrite"], "student_pointmap.pt"),
    Case("convert", "point map: output is the input's own folder",
         lambda w: ["convert", w.pointmap_checkpoint("pm/student_pointmap.pt"), "pm", "--overwrite"],
         "student_pointmap.pt"),
    Case("convert", "output not from a conversion",
         lambda w: ["convert", str(w.checkpoint), Path(w.file("mine/x.txt", "x")).parent.name, "--overwrite"],
         "mine"),
    # ------------------------------------------------------------------ depth
    Case("depth", "missing image", lambda w: _depth(w, images=("nope.png",)), "nope.png"),
    Case("depth", "not an image", lambda w: _depth(w, images=(w.file("fake.png", "text"),)), "fake.png"),
    Case("depth", "decompression bomb (20000 x 20000)",
         lambda w: _depth(w, "--focal-length-px", "500", images=(w.bomb("huge.png"),)), "huge.png"),
    Case("depth", "no focal length",
         lambda w: _depth(w, images=(str(write_photo(w.root / "nocam.png", focal_length_px=None).name),)),
         "nocam"),
    Case("depth", "cam_in of strings",
         lambda w: _depth(w, images=(w.file("cam.json", '{"cam_in": "1234"}') and
                                     write_photo(w.root / "cam.png", focal_length_px=None).name,)), "cam.json"),
    Case("depth", "prompt .npy of integers (millimetres?)",
         lambda w: _depth(w, "--prompt-depth", w.npy("mm.npy", np.full((48, 64), 1500, np.int32)),
                          model=w.teacher), "mm.npy"),
    Case("depth", "prompt .npy of bools",
         lambda w: _depth(w, "--prompt-depth", w.npy("b.npy", np.ones((48, 64), bool)), model=w.teacher), "b.npy"),
    Case("depth", "prompt .npy of complex",
         lambda w: _depth(w, "--prompt-depth", w.npy("c.npy", np.ones((48, 64), np.complex64)), model=w.teacher),
         "c.npy"),
    Case("depth", "prompt of the wrong size",
         lambda w: _depth(w, "--prompt-depth", w.npy("s.npy", np.ones((4, 4), np.float32)), model=w.teacher),
         "s.npy"),
    Case("depth", "one prompt for two images",
         lambda w: _depth(w, "--prompt-depth", w.npy("p.npy", np.ones((48, 64), np.float32)), model=w.teacher,
                          images=("photo.png", write_photo(w.root / "two.png").name)), "--prompt-depth"),
    Case("depth", "mistyped local model folder", lambda w: _depth(w, model="runs/modle"), "runs/modle"),
    Case("depth", "model is a file", lambda w: _depth(w, model="notes.txt"), "notes.txt"),
    Case("depth", "model weights hold NaN", lambda w: _depth(w, model=w.nan_model), "NaN"),
    Case("depth", "truncated model.safetensors", lambda w: _depth(w, model=w.truncated_model("cut_model")),
         "cut_model"),
    Case("depth", "model folder without its image processor",
         lambda w: _depth(w, model=w.model_without("no_processor", "preprocessor_config.json")), "no_processor"),
    Case("depth", "output under a file",
         lambda w: ["depth", "photo.png", "--model", str(w.model), "--output", "notes.txt/out"], "notes.txt/out"),
    Case("depth", "output is a file",
         lambda w: ["depth", "photo.png", "--model", str(w.model), "--output", "notes.txt"], "notes.txt"),
    Case("depth", "output over the input photo",
         lambda w: ["depth", "photo.png", "--model", str(w.model), "--output", "."], "photo.png"),
    Case("depth", "two inputs with one stem",
         lambda w: _depth(w, images=("photo.png", str(write_photo(w.root / "b" / "photo.png")))), "b/photo.png"),
    # ------------------------------------------------------------------ data generate / import
    Case("data generate", "zero scenes", lambda w: ["data", "generate", "--output", "d", "--scenes", "0"], "--scenes"),
    Case("data generate", "zero workers",
         lambda w: ["data", "generate", "--output", "d", "--scenes", "2", "--workers", "0"], "--workers"),
    Case("data generate", "unknown layout",
         lambda w: ["data", "generate", "--output", "d", "--scenes", "2", "--layouts", "moon"], "moon"),
    Case("data generate", "unknown depth source",
         lambda w: ["data", "generate", "--output", "d", "--scenes", "2", "--sources", "radar9"], "radar9"),
    Case("data generate", "output is a file",
         lambda w: ["data", "generate", "--output", "notes.txt", "--scenes", "2"], "notes.txt"),
    Case("data generate", "output holds a killed render",
         lambda w: ["data", "generate", "--output", w.killed_render("half"), "--scenes", "2"], "half"),
    Case("data import", "missing source", lambda w: ["data", "import", "--data", "nope.mat", "--output", "d"],
         "nope.mat"),
    Case("data import", "8-bit depth PNGs",
         lambda w: ["data", "import", "--data", w.depth_folder("d8", np.uint8), "--output", "d"], "a_depth.png"),
    Case("data import", "cam_in of strings",
         lambda w: ["data", "import", "--data", w.depth_folder("ds", cam_in=("a", "b", "c", "d")), "--output", "d"],
         "a.json"),
    Case("data import", "output is a file",
         lambda w: ["data", "import", "--data", w.depth_folder("ok"), "--output", "notes.txt"], "notes.txt"),
    # ------------------------------------------------------------------ pretrain
    Case("pretrain", "missing recipe", lambda w: _pretrain("nope.yaml"), "nope.yaml"),
    Case("pretrain", "recipe is not YAML", lambda w: _pretrain(w.file("bad.yaml", "train: [1, 2\n")), "bad.yaml"),
    Case("pretrain", "unknown top-level key", lambda w: _pretrain(w.file("k.yaml", "trian: {}\n")), "trian"),
    Case("pretrain", "learning rate as YAML text '1e-3'",
         lambda w: _pretrain(w.file("s.yaml", "train: {learning_rate: 1e-3}\n")), "train.learning_rate"),
    Case("pretrain", "negative learning rate",
         lambda w: _pretrain(w.recipe("n.yaml", train={"learning_rate": -0.001})), "train.learning_rate"),
    Case("pretrain", "save_every 0", lambda w: _pretrain(w.recipe("z.yaml", train={"save_every": 0})),
         "train.save_every"),
    Case("pretrain", "--max-steps 0", lambda w: _pretrain(w.recipe("m.yaml"), "--max-steps", "0"), "max_steps"),
    Case("pretrain", "typo inside model.overrides",
         lambda w: _pretrain(w.recipe("o.yaml", model={"overrides": {"decodr_hidden_size": 8}})),
         "decodr_hidden_size"),
    Case("pretrain", "missing data.path", lambda w: _pretrain(w.recipe("p.yaml", data={"path": "rgbd_typo"})),
         "rgbd_typo"),
    Case("pretrain", "data.path is a killed render",
         lambda w: _pretrain(w.recipe("kr.yaml", data={"path": w.killed_render("half")})), "half"),
    Case("pretrain", "output is a file", lambda w: ["pretrain", "--recipe", w.recipe("r.yaml"), "--output", "notes.txt"],
         "notes.txt"),
    # ------------------------------------------------------------------ distill
    Case("distill", "teacher is not a model folder",
         lambda w: ["distill", "--recipe", w.recipe("d.yaml"), "--teacher", "runs", "--output", "s"], "runs"),
    Case("distill", "bad recipe value",
         lambda w: ["distill", "--recipe", w.recipe("d2.yaml", train={"batch_size": 0}), "--teacher",
                    str(w.teacher), "--output", "s"], "train.batch_size"),
    Case("distill", "unknown head_activation",
         lambda w: ["distill", "--recipe", w.recipe("h.yaml", model={"init_from": "teacher", "use_prompt": False,
                                                                     "overrides": {"head_activation": "log"}}),
                    "--teacher", str(w.teacher), "--output", "s"], "head_activation 'log'"),
    Case("distill", "an override the teacher's weights cannot honour",
         lambda w: ["distill", "--recipe", w.recipe("h2.yaml", model={"init_from": "teacher", "use_prompt": False,
                                                                      "overrides": {"decoder_hidden_size": 7}}),
                    "--teacher", str(w.teacher), "--output", "s"], "decoder_hidden_size"),
    # ------------------------------------------------------------------ scaling
    Case("scaling", "missing recipe", lambda w: ["scaling", "--recipe", "nope.yaml", "--output", "study"], "nope.yaml"),
    Case("scaling", "empty scene_counts", lambda w: _scaling(w, "s0.yaml", scaling={"scene_counts": []}),
         "scaling.scene_counts"),
    Case("scaling", "scene count 0", lambda w: _scaling(w, "s1.yaml", scaling={"scene_counts": [0, 4]}),
         "scaling.scene_counts"),
    Case("scaling", "camera count as text", lambda w: _scaling(w, "c0.yaml", scaling={"camera_models": ["16"]}),
         "scaling.camera_models"),
    Case("scaling", "more camera models than the zoo holds at that size",
         lambda w: _scaling(w, "c1.yaml", scaling={"camera_models": [4, 100000]}), "scaling.camera_models"),
    Case("scaling", "unknown evaluation prompt",
         lambda w: _scaling(w, "p.yaml", scaling={"eval_prompts": ["none", "laser:3"]}), "laser:3"),
    Case("scaling", "seed as text", lambda w: _scaling(w, "sd.yaml", scaling={"seeds": ["0"]}), "scaling.seeds"),
    Case("scaling", "missing student recipe",
         lambda w: _scaling(w, "st.yaml", scaling={"student_recipe": "no_student.yaml"}), "no_student.yaml"),
    Case("scaling", "eval_generate without scenes",
         lambda w: _scaling(w, "e0.yaml", scaling={"eval_generate": {"seed": 1000}}), "scaling.eval_generate.scenes"),
    Case("scaling", "typo in eval_generate",
         lambda w: _scaling(w, "e1.yaml", scaling={"eval_generate": {"scenes": 2, "sede": 1}}), "sede"),
    Case("scaling", "data.generate size as text",
         lambda w: _scaling(w, "g.yaml", data={"generate": {"max_side": "96px"}}), "data.generate.max_side"),
    Case("scaling", "data.path given (scaling renders its own sets)",
         lambda w: _scaling(w, "dp.yaml", data={"path": "rgbd"}), "data.path"),
    Case("scaling", "output is a file", lambda w: _scaling(w, "o.yaml", output="notes.txt"), "notes.txt"),
    # ------------------------------------------------------------------ eval depth
    Case("eval depth", "missing --data (not sent to the Hub)", lambda w: _eval_depth(w, data="nyu_typo"), "nyu_typo"),
    Case("eval depth", "missing --data that looks like a Hub id", lambda w: _eval_depth(w, data="runs/nyu"),
         "runs/nyu"),
    Case("eval depth", "8-bit depth PNGs", lambda w: _eval_depth(w, data=w.depth_folder("d8", np.uint8)),
         "a_depth.png"),
    Case("eval depth", "cam_in of strings",
         lambda w: _eval_depth(w, data=w.depth_folder("ds", cam_in=("a", "b", "c", "d"))), "a.json"),
    Case("eval depth", "mistyped model folder", lambda w: _eval_depth(w, data=w.depth_folder("ok"), model="runs/m"),
         "runs/m"),
    Case("eval depth", "model weights hold NaN",
         lambda w: _eval_depth(w, data=w.depth_folder("ok"), model=str(w.nan_model)), "NaN"),
    Case("eval depth", "output is a folder", lambda w: _eval_depth(w, data=w.depth_folder("ok"), output="runs"),
         "runs"),
    Case("eval depth", "unknown prompt spec",
         lambda w: _eval_depth(w, "--prompt", "laser:3", data=w.depth_folder("ok")), "laser:3"),
    # ------------------------------------------------------------------ eval score
    Case("eval score", "missing predictions", lambda w: _score(w, "nope.jsonl"), "nope.jsonl"),
    Case("eval score", "line is not JSON", lambda w: _score(w, w.file("bad.jsonl", "{oops\n")), "bad.jsonl"),
    Case("eval score", "unknown benchmark", lambda w: _score(w, w.jsonl("p.jsonl", COUNT), benchmark="vsibench2"),
         "vsibench2"),
    Case("eval score", "no prediction field",
         lambda w: _score(w, w.jsonl("np.jsonl", {"question_type": "object_counting", "ground_truth": "3"})),
         "np.jsonl"),
    Case("eval score", "prediction is a list", lambda w: _score(w, w.jsonl("l.jsonl", {**COUNT, "prediction": [3]})),
         "l.jsonl"),
    Case("eval score", "count ground truth 0",
         lambda w: _score(w, w.jsonl("z.jsonl", {**COUNT, "ground_truth": "0", "prediction": "0"})), "z.jsonl"),
    Case("eval score", "output is a folder", lambda w: _score(w, w.jsonl("p.jsonl", COUNT), output="runs"), "runs"),
    # ------------------------------------------------------------------ eval spatial
    Case("eval spatial", "unknown benchmark",
         lambda w: ["eval", "spatial", "--model", "m", "--benchmark", "vsi", "--output", "r.json"], "vsi"),
    Case("eval spatial", "mistyped local model",
         lambda w: ["eval", "spatial", "--model", "./my_model", "--benchmark", "vsibench", "--output", "r.json"],
         "./my_model"),
    Case("eval spatial", "missing --data",
         lambda w: ["eval", "spatial", "--model", str(w.model), "--benchmark", "vsibench", "--data", "vsi_copy",
                    "--output", "r.json"], "vsi_copy"),
    Case("eval spatial", "--data is an interrupted SynthSpatial build",
         lambda w: ["eval", "spatial", "--model", str(w.model), "--benchmark", "synthspatial", "--data",
                    w.interrupted_synthspatial("ss"), "--output", "r.json"], "ss"),
    Case("eval spatial", "output is a folder",
         lambda w: ["eval", "spatial", "--model", str(w.model), "--benchmark", "vsibench", "--output", "runs"],
         "runs"),
    # ------------------------------------------------------------------ eval synthspatial
    Case("eval synthspatial", "missing --rgbd",
         lambda w: ["eval", "synthspatial", "--rgbd", "rgbd_typo", "--output", "q"], "rgbd_typo"),
    Case("eval synthspatial", "--rgbd is a killed render",
         lambda w: ["eval", "synthspatial", "--rgbd", w.killed_render("half"), "--output", "q"], "half"),
    Case("eval synthspatial", "output is a file",
         lambda w: ["eval", "synthspatial", "--rgbd", w.killed_render("half"), "--output", "notes.txt"], "notes.txt"),
    Case("eval synthspatial", "output holds the user's files",
         lambda w: ["eval", "synthspatial", "--rgbd", str(w.root.parent / "rgbd"), "--output", "."], "notes.txt"),
    Case("eval synthspatial", "output is the RGB-D input folder (unmarked, one shard)",
         lambda w: ["eval", "synthspatial", "--rgbd", w.unmarked_rgbd("r"), "--output", "r"], "--rgbd input r"),
    Case("eval synthspatial", "zero questions per type",
         lambda w: ["eval", "synthspatial", "--rgbd", "x", "--output", "q", "--questions-per-type", "0"],
         "--questions-per-type"),
    # ------------------------------------------------------------------ point map: intrinsics, reconstruct ...
    Case("intrinsics", "a depth model as --model", lambda w: ["intrinsics", "photo.png", "--model", str(w.model)],
         lambda w: str(w.model)),
    Case("intrinsics", "not a point-map model", lambda w: ["intrinsics", "photo.png", "--model", "./pm_typo"],
         "./pm_typo"),
    Case("reconstruct", "missing poses file",
         lambda w: ["reconstruct", "photo.png", "--model", "./pm_typo", "--output", "rec", "--poses", "nope.json"],
         "nope.json"),
    Case("reconstruct", "not a point-map model",
         lambda w: ["reconstruct", "photo.png", "--model", "./pm_typo", "--output", "rec"], "./pm_typo"),
    Case("multiview-data", "output is a file", lambda w: ["multiview-data", "--output", "notes.txt"], "notes.txt"),
    Case("multiview-data", "zero views", lambda w: ["multiview-data", "--output", "mv", "--views", "0"], "--views"),
    Case("pretrain-pointmap", "missing --data",
         lambda w: ["pretrain-pointmap", "--data", "rgbd_typo", "--output", "pm"], "rgbd_typo"),
    Case("eval pointmap", "missing --data",
         lambda w: ["eval", "pointmap", "--model", "baseline:fov60", "--data", "rgbd_typo", "--output", "r.json"],
         "rgbd_typo"),
    # ------------------------------------------------------------------ VLA: vla demos / eval / table
    Case("vla demos", "MetaWorld v2 task name",
         lambda w: ["vla", "demos", "--tasks", "push-v2", "--episodes", "1", "--root", "d"], "push-v2"),
    Case("vla demos", "zero episodes",
         lambda w: ["vla", "demos", "--tasks", "reach-v3", "--episodes", "0", "--root", "d"], "--episodes"),
    Case("vla demos", "root is a file",
         lambda w: ["vla", "demos", "--tasks", "reach-v3", "--episodes", "1", "--root", "notes.txt"], "notes.txt"),
    Case("vla demos", "tasks given to the one-task PushT",
         lambda w: ["vla", "demos", "--env", "pusht", "--tasks", "reach-v3", "--episodes", "1", "--root", "d"], "--tasks"),
    Case("vla demos", "MetaWorld without tasks",
         lambda w: ["vla", "demos", "--episodes", "1", "--root", "d"], "--tasks"),
    Case("vla demos", "--no-depth resuming a dataset recorded with depth",
         lambda w: ["vla", "demos", "--tasks", "reach-v3", "--episodes", "1", "--no-depth", "--root", str(Path(w.file(
             "mw/meta/ma_vlm_demos.json", json.dumps({"env": "metaworld", "tasks": ["reach-v3"], "episodes": 1,
                                                      "image_size": 96, "camera": "corner4"}))).parents[1])],
         "--no-depth"),
    Case("vla demos", "LIBERO without a suite",
         lambda w: ["vla", "demos", "--env", "libero", "--episodes", "1", "--root", "d"], "--suite"),
    Case("vla demos", "mistyped LIBERO suite",
         lambda w: ["vla", "demos", "--env", "libero", "--suite", "libero_spatail", "--episodes", "1", "--root", "d"],
         "libero_spatail"),
    Case("vla demos", "LIBERO task id beyond the suite",
         lambda w: ["vla", "demos", "--env", "libero", "--tasks", "libero_spatial/10", "--episodes", "1", "--root", "d"],
         "0..9"),
    Case("vla demos", "negative first seed",
         lambda w: ["vla", "demos", "--tasks", "reach-v3", "--episodes", "1", "--root", "d", "--seed-start", "-1"],
         "--seed-start"),
    Case("vla eval", "LIBERO is scored by lerobot-eval",
         lambda w: ["vla", "eval", "--env", "libero", "--policy", "p", "--output", "e"], "lerobot-eval"),
    Case("vla eval", "tasks given to the one-task PushT",
         lambda w: ["vla", "eval", "--env", "pusht", "--policy", "p", "--tasks", "reach-v3", "--output", "e"], "--tasks"),
    Case("vla eval", "mistyped local policy",
         lambda w: ["vla", "eval", "--policy", "./no_policy", "--tasks", "reach-v3", "--output", "e"], "./no_policy"),
    Case("vla table", "missing eval folder",
         lambda w: ["vla", "table", "--run", "a=no_eval", "--output", "t.md"], "no_eval"),
    # ------------------------------------------------------------------ MLLM: train mllm, chat, data llava
    Case("train mllm", "missing recipe", lambda w: ["train", "mllm", "--recipe", "nope.yaml", "--output", "o"],
         "nope.yaml"),
    Case("train mllm", "recipe is not a mapping", lambda w: ["train", "mllm", "--recipe", "notes.txt", "--output", "o"],
         "notes.txt"),
    Case("train mllm", "unknown pyramid level",
         lambda w: ["train", "mllm", "--recipe", str(REPO / "recipes" / "mllm_lora_tiny.yaml"), "--output", "o",
                    "--set", "model.vision_pyramid_level=3"], "vision_pyramid_level 3"),
    Case("chat", "mistyped local model", lambda w: ["chat", "--model", "./no_mllm", "--image", "photo.png", "hi"],
         "./no_mllm"),
    Case("chat", "missing image", lambda w: ["chat", "--model", str(w.model), "--image", "nope.png", "hi"], "nope.png"),
    Case("data llava", "missing SynthSpatial folder",
         lambda w: ["data", "llava", "--synthspatial", "no_ss", "--output", "t.jsonl"], "no_ss"),
    Case("data llava", "interrupted SynthSpatial build (no complete.json)",
         lambda w: ["data", "llava", "--synthspatial", w.interrupted_synthspatial("ss"), "--output", "t.jsonl"], "ss"),
    # ------------------------------------------------------------------ demo
    Case("demo", "unknown budget", lambda w: ["demo", "--budget", "huge", "--output", "dm"], "huge"),
    # ------------------------------------------------------------------ model folders, any command
    Case("chat", "weights stored as a pickle", lambda w: _chat(w, model=_retype(w, w.pickled_model("pk"), "spatial_llava")),
         "pytorch_model.bin"),
    Case("reconstruct", "weights stored as a pickle",
         lambda w: ["reconstruct", "photo.png", "--model", _retype(w, w.pickled_model("pk"), "metric_anything_pointmap"),
                    "--output", "rec"], "pytorch_model.bin"),
    Case("pretrain", "init_from holds a pickle", lambda w: _pretrain(w.recipe("r.yaml", model={"init_from": w.pickled_model("pk")})),
         "pytorch_model.bin"),
    Case("train mllm", "model.tower holds a pickle", lambda w: _train_mllm(w, f"model.tower={w.pickled_model('pk')}"),
         "pytorch_model.bin"),
    Case("chat", "a depth model, not an MLLM", lambda w: _chat(w), "'metric_anything' model"),
    Case("chat", "an adapter-only folder", lambda w: _chat(w, model=w.adapter_only("adapter")), "PEFT adapters"),
    Case("chat", "decompression bomb image",
         lambda w: ["chat", "--model", str(w.model), "--image", w.bomb("huge.png"), "hi"], "huge.png"),
    Case("chat", "negative --max-new-tokens", lambda w: _chat(w, "--max-new-tokens", "-3"), "--max-new-tokens"),
    Case("chat", "empty question", lambda w: _chat(w, question="  "), "question is empty"),
    Case("chat", "a Hub id while offline", lambda w: _chat(w, model="nosuch-org/nosuch-model"), "--model"),
    Case("distill", "teacher is a point-map model",
         lambda w: ["distill", "--recipe", w.recipe("d.yaml", model={"use_prompt": False}), "--output", "run",
                    "--teacher", w.retyped_model("pm", "metric_anything_pointmap")], "'metric_anything_pointmap' model"),
    Case("distill", "teacher with a truncated model.safetensors",
         lambda w: ["distill", "--recipe", w.recipe("d.yaml", model={"use_prompt": False}), "--output", "run",
                    "--teacher", w.truncated_model("cut")], "cut off"),
    Case("eval spatial", "a depth model as --model",
         lambda w: ["eval", "spatial", "--model", str(w.model), "--benchmark", "cvbench", "--data",
                    Path(w.file("cv/test.jsonl", "{}\n")).parent.name, "--output", "o.json"],
         "'metric_anything' model"),
    Case("vla eval", "a depth model as --policy",
         lambda w: ["vla", "eval", "--policy", str(w.model), "--tasks", "reach-v3", "--output", "e"], "'metric_anything' model"),
    Case("reconstruct", "malformed --poses JSON",
         lambda w: ["reconstruct", "photo.png", "--model", str(w.model), "--output", "rec", "--poses",
                    w.file("poses.json", '{"photo": [[1, 0, 0]')], "poses.json"),
    Case("reconstruct", "a pose that is not 4x4",
         lambda w: ["reconstruct", "photo.png", "--model", w.retyped_model("pm", "metric_anything_pointmap"), "--output",
                    "rec", "--poses", w.file("poses.json", '{"photo": [[1, 0], [0, 1]]}')], "4x4"),
    # ------------------------------------------------------------------ train mllm: the recipe, up front
    Case("train mllm", "a learning rate that is text", lambda w: _train_mllm(w, "train.learning_rate=fast"),
         "train.learning_rate"),
    Case("train mllm", "a learning rate YAML reads as text", lambda w: _train_mllm(w, "train.learning_rate=1e-4"),
         "with a dot"),
    Case("train mllm", "batch size 0", lambda w: _train_mllm(w, "train.per_device_train_batch_size=0"),
         "train.per_device_train_batch_size"),
    Case("train mllm", "an unknown train key", lambda w: _train_mllm(w, "train.learning_rat=1.0e-4"),
         "did you mean learning_rate"),
    Case("train mllm", "an unknown section", lambda w: _train_mllm(w, "trian.max_steps=3"), "did you mean train"),
    Case("train mllm", "an unknown lora key", lambda w: _train_mllm(w, "lora.rnak=8"), "lora"),
    Case("train mllm", "an unknown stage", lambda w: _train_mllm(w, "stage=finetune"), "stage"),
    Case("train mllm", "a malformed JSONL line",
         lambda w: _train_mllm(w, data=w.file("bad.jsonl", '{"conversations": []}\n{"conversations": [\n')), "bad.jsonl:2"),
    Case("train mllm", "a missing data file", lambda w: _train_mllm(w, data="runs/llava.jsonl"), "runs/llava.jsonl"),
    Case("train mllm", "model.llm is a depth model", lambda w: _train_mllm(w, f"model.llm={w.model}"), "model.llm"),
    Case("train mllm", "model.llm a Hub id while offline",
         lambda w: _train_mllm(w, "model.llm=nosuch-org/nosuch-llm"), "model.llm"),
    # ------------------------------------------------------------------ nonsense that used to succeed
    Case("vla eval", "zero episodes",
         lambda w: ["vla", "eval", "--policy", "p", "--tasks", "reach-v3", "--episodes", "0", "--output", "e"], "--episodes"),
    Case("vla demos", "image size 0",
         lambda w: ["vla", "demos", "--tasks", "reach-v3", "--episodes", "1", "--root", "d", "--image-size", "0"],
         "--image-size"),
    Case("vla table", "output is an existing folder",
         lambda w: ["vla", "table", "--run", "a=runs", "--output", "runs"], "--output runs"),
    Case("pretrain-pointmap", "zero steps",
         lambda w: ["pretrain-pointmap", "--data", "runs", "--output", "pm", "--steps", "0"], "--steps"),
    Case("pretrain-pointmap", "output is the data folder",
         lambda w: ["pretrain-pointmap", "--data", "runs", "--output", "runs"], "overlap"),
    Case("intrinsics", "a 1 x 1 image",
         lambda w: ["intrinsics", write_photo(w.root / "dot.png", 1, 1).name, "--model",
                    w.retyped_model("pm", "metric_anything_pointmap")], "dot.png"),
    Case("intrinsics", "decompression bomb (no --max-megapixels to suggest)",
         lambda w: ["intrinsics", w.bomb("huge.png"), "--model", w.retyped_model("pm", "metric_anything_pointmap")],
         "downscale it"),
    Case("multiview-data", "field of view 0", lambda w: ["multiview-data", "--output", "mv", "--fov", "0"], "--fov"),
    Case("data import", "a folder with no depth pairs",
         lambda w: ["data", "import", "--data", Path(w.file("photos/a.png", b"x")).parent.name, "--format", "folder",
                    "--output", "imported"], "no RGB-D pairs"),
    Case("data import", "a folder of photos only, format guessed",
         lambda w: ["data", "import", "--data", Path(w.file("photos/a.png", b"x")).parent.name, "--output", "imported"],
         "photos"),
    Case("app", "port out of range", lambda w: ["app", "--port", "70000"], "--port 70000"),
    Case("app", "port another program listens on", lambda w: ["app", "--port", str(w.busy_port())], "is in use"),
    Case("scaling", "a recipe without a scaling section",
         lambda w: ["scaling", "--recipe", w.recipe("plain.yaml"), "--output", "study"], "scaling:"),
    # ------------------------------------------------------------------ export onnx
    Case("export onnx", "a teacher folder (needs a prompt)",
         lambda w: ["export", "onnx", str(w.teacher), "graph"], "teacher"),
    Case("export onnx", "OUT_DIR is an existing file",
         lambda w: ["export", "onnx", str(w.model), w.file("notes.txt", "x")], "notes.txt"),
    Case("export onnx", "OUT_DIR is a non-empty folder",
         lambda w: ["export", "onnx", str(w.model), Path(w.file("mine/x.txt", "x")).parent.name], "mine"),
    Case("export onnx", "MODEL_DIR is not a model folder",
         lambda w: ["export", "onnx", Path(w.file("photos/a.png", b"x")).parent.name, "graph"], "photos"),
]


@pytest.fixture
def workspace(tmp_path, monkeypatch, tiny_model_dir, tiny_teacher_dir, nan_model_dir, official_checkpoint,
              official_pointmap_checkpoint):
    root = tmp_path / "user"
    root.mkdir()
    monkeypatch.chdir(root)
    return Workspace(root, tiny_model_dir, tiny_teacher_dir, nan_model_dir, official_checkpoint,
                     official_pointmap_checkpoint)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bad_input_is_one_clear_line(case: Case, workspace: Workspace, capsys):
    argv = case.argv(workspace)
    before = snapshot(workspace.root)
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2, f"exit {code} for {argv}\n{err[-2000:]}"
    assert "Traceback" not in out + err
    last_line = err.strip().splitlines()[-1]
    assert last_line.startswith("ma-vlm: error: "), err[-2000:]
    names = case.names(workspace) if callable(case.names) else case.names
    assert names in last_line, last_line
    after = snapshot(workspace.root)
    assert {k: after.get(k) for k in before} == before, "a user file was changed or deleted"


def test_numeric_predictions_are_scored_as_text(workspace, capsys):
    predictions = workspace.jsonl("n.jsonl", {**COUNT, "prediction": 3}, {**COUNT, "prediction": None})
    assert main(_score(workspace, predictions)) == 0
    report = json.loads((workspace.root / "scores.json").read_text())
    assert [row["score"] for row in report["per_item"]] == [1.0, 0.0]


def test_debug_shows_the_traceback(workspace):
    with pytest.raises(Exception, match="nope.png"):
        main(["--debug", *_depth(workspace, images=("nope.png",))])


def test_catalogue_covers_every_command():
    commands = {case.command for case in CASES}
    assert commands >= {"convert", "depth", "data generate", "data import", "pretrain", "distill", "scaling", "eval depth",
                        "eval score", "eval spatial", "eval synthspatial", "intrinsics", "reconstruct",
                        "multiview-data", "pretrain-pointmap", "eval pointmap", "vla demos", "vla eval", "vla table",
                        "demo", "train mllm", "chat", "data llava", "app", "export onnx"}


def test_read_only_output_folder_is_one_line(workspace, capsys):
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    locked = workspace.root / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        assert main(["depth", "photo.png", "--model", str(workspace.model), "--output", "locked/out"]) == 2
    finally:
        locked.chmod(0o755)
    assert "locked" in capsys.readouterr().err.strip().splitlines()[-1]
