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
    from ma_vlm.errors import MaVlmInputError
    from ma_vlm.inputs import open_image
    from ma_vlm.mllm.chat import answer, chat_inputs, load_chat_model

    if not args.question.strip():
        raise MaVlmInputError("the question is empty; ask something, e.g. \"How far is the chair from the camera?\"")
    if args.max_new_tokens < 1:
        raise MaVlmInputError(f"--max-new-tokens {args.max_new_tokens}: give at least 1")
    images = [open_image(path, limit_flag=None).convert("RGB") for path in args.image]  # missing, unreadable, too large: one line
    model, processor = load_chat_model(args.model, "--model")
    intrinsics = [args.intrinsics] * len(images) if args.intrinsics and images else None
    print(answer(model, processor, chat_inputs(processor, images, args.question, intrinsics), args.max_new_tokens))
    return 0
