"""``ma-vlm train mllm`` and ``ma-vlm chat``.

    ma-vlm train mllm --recipe recipes/mllm_lora_tiny.yaml --output runs/mllm_tiny
    ma-vlm chat --model runs/mllm_tiny/model --image room.png "How far is the chair?"
"""

from __future__ import annotations

from pathlib import Path


def register(subparsers) -> None:
    train = subparsers.add_parser("train", help="train a model from a recipe")
    kinds = train.add_subparsers(dest="train_command", required=True, metavar="MODEL")
    mllm = kinds.add_parser("mllm", help="the spatial MLLM (LLM + Metric Anything tower) with PEFT, on Trainer")
    mllm.add_argument("--recipe", required=True, help="YAML recipe (recipes/mllm_*.yaml)")
    mllm.add_argument("--output", required=True, help="run folder; a rerun resumes from its last checkpoint")
    mllm.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                      help="override a recipe value, e.g. --set train.max_steps=10 (YAML value)")
    mllm.set_defaults(func=train_command)

    chat = subparsers.add_parser("chat", help="ask a spatial MLLM a question about an image")
    chat.add_argument("--model", required=True, help="model folder with its processor (OUTPUT/model of `ma-vlm train mllm`)")
    chat.add_argument("--image", action="append", default=[], help="image file, repeatable")
    chat.add_argument("--intrinsics", type=float, nargs=4, default=None, metavar=("FX", "FY", "CX", "CY"),
                      help="camera intrinsics in pixels of the image (one set for every image)")
    chat.add_argument("--max-new-tokens", type=int, default=64)
    chat.add_argument("question")
    chat.set_defaults(func=chat_command)


def _apply_overrides(recipe, overrides: list[str]) -> None:
    import yaml

    from ma_vlm.errors import MaVlmInputError

    for override in overrides:
        key, sep, value = override.partition("=")
        section, dot, name = key.partition(".")
        if not sep or not dot or not hasattr(recipe, section):
            raise MaVlmInputError(f"--set {override!r}: write SECTION.KEY=VALUE, e.g. train.max_steps=10")
        target = getattr(recipe, section)
        parsed = yaml.safe_load(value)
        if isinstance(target, dict):
            target[name] = parsed
        elif hasattr(target, name):
            setattr(target, name, parsed)
        else:
            raise MaVlmInputError(f"--set {override!r}: {section} has no field {name!r}")


def train_command(args) -> int:
    from ma_vlm.mllm.train import load_recipe, train_mllm

    recipe = load_recipe(args.recipe)
    _apply_overrides(recipe, args.set)
    print("model ->", train_mllm(recipe, args.output))
    return 0


def chat_command(args) -> int:
    import torch
    from PIL import Image
    from transformers import AutoProcessor

    from ma_vlm.errors import MaVlmInputError
    from ma_vlm.mllm.lora import load_spatial_mllm

    images = []
    for path in args.image:
        try:
            images.append(Image.open(path).convert("RGB"))
        except OSError as error:
            raise MaVlmInputError(f"--image {path}: cannot read it ({error})") from error
    from ma_vlm.inputs import check_hub_id, refuse_custom_code
    from ma_vlm.mllm import register

    register()  # AutoProcessor below must know spatial_llava
    if not Path(args.model).exists():  # a mistyped local folder fails here, not in the Hub client
        check_hub_id(str(args.model), "--model")
    refuse_custom_code(args.model, "--model")
    processor = AutoProcessor.from_pretrained(args.model, trust_remote_code=False)
    model = load_spatial_mllm(args.model).eval()
    content = [{"type": "image"} for _ in images] + [{"type": "text", "text": args.question}]
    prompt = processor.apply_chat_template([{"role": "user", "content": content}], add_generation_prompt=True)
    intrinsics = [args.intrinsics] * len(images) if args.intrinsics and images else None
    inputs = processor(images=images or None, text=[prompt], intrinsics=intrinsics)
    with torch.inference_mode():
        output = model.generate(**inputs, max_new_tokens=args.max_new_tokens, do_sample=False)
    print(processor.batch_decode(output[:, inputs["input_ids"].shape[1]:], skip_special_tokens=True)[0].strip())
    return 0
