"""``ma-vlm train mllm`` and ``ma-vlm chat``.

    ma-vlm train mllm --recipe recipes/mllm_lora_tiny.yaml --output runs/mllm_tiny
    ma-vlm chat --model runs/mllm_tiny/model --image room.png "How far is the chair?"
"""

from __future__ import annotations


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


def train_command(args) -> int:
    from ma_vlm.mllm.train import load_recipe, train_mllm

    recipe = load_recipe(args.recipe, args.set)
    print("model ->", train_mllm(recipe, args.output))
    return 0


def chat_command(args) -> int:
    import torch
    from transformers import AutoProcessor

    from ma_vlm.errors import MaVlmInputError
    from ma_vlm.inputs import open_image
    from ma_vlm.mllm import register
    from ma_vlm.mllm.lora import load_spatial_mllm
    from ma_vlm.model_folders import SPATIAL_MLLM, check_model_folder, load_failure

    if not args.question.strip():
        raise MaVlmInputError("the question is empty; ask something, e.g. \"How far is the chair from the camera?\"")
    if args.max_new_tokens < 1:
        raise MaVlmInputError(f"--max-new-tokens {args.max_new_tokens}: give at least 1")
    images = [open_image(path, limit_flag=None).convert("RGB") for path in args.image]  # missing, unreadable, too large: one line
    check_model_folder(args.model, "--model", SPATIAL_MLLM)
    register()  # AutoProcessor below must know spatial_llava
    try:
        processor = AutoProcessor.from_pretrained(args.model, trust_remote_code=False)
        model = load_spatial_mllm(args.model).eval()
    except MaVlmInputError:
        raise
    except (OSError, ValueError) as error:
        raise load_failure("--model", args.model, error) from None
    content = [{"type": "image"} for _ in images] + [{"type": "text", "text": args.question}]
    prompt = processor.apply_chat_template([{"role": "user", "content": content}], add_generation_prompt=True)
    intrinsics = [args.intrinsics] * len(images) if args.intrinsics and images else None
    inputs = processor(images=images or None, text=[prompt], intrinsics=intrinsics)
    with torch.inference_mode():
        output = model.generate(**inputs, max_new_tokens=args.max_new_tokens, do_sample=False)
    print(processor.batch_decode(output[:, inputs["input_ids"].shape[1]:], skip_special_tokens=True)[0].strip())
    return 0
