"""``ma-vlm data ...``: make synthetic RGB-D data.

    ma-vlm data generate --output DIR --scenes N --seed S [--workers K] [--camera-models M]
    ma-vlm data import --data PATH --output DIR [--format F] [--source NAME]
    ma-vlm data llava --synthspatial DIR --output FILE.jsonl [--split train]
"""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    data = subparsers.add_parser("data", help="generate RGB-D training data")
    commands = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    generate = commands.add_parser(
        "generate", help="render procedural scenes to a Hugging Face dataset (parquet shards)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    generate.add_argument("--output", required=True, help="output folder (data/*.parquet)")
    generate.add_argument("--scenes", type=int, required=True, help="number of scenes (one view each)")
    generate.add_argument("--seed", type=int, default=0, help="scene i depends only on (seed, i)")
    generate.add_argument("--workers", type=int, default=1, help="rendering processes")
    generate.add_argument("--camera-models", type=int, default=1000,
                          help="distinct intrinsics drawn from the camera zoo (nested: 10 is a subset of 100)")
    generate.add_argument("--max-side", type=int, default=640, help="largest image side in pixels")
    generate.add_argument("--min-side", type=int, default=48, help="smallest long image side in pixels")
    generate.add_argument("--layouts", default="room,tabletop,street", help="comma-separated scene layouts")
    generate.add_argument("--sources", default="render",
                          help="comma-separated depth sources drawn per scene: render (clean), "
                               "lidar, tof, stereo, sfm, mvs, lowres")
    generate.set_defaults(func=_generate)

    convert = commands.add_parser(
        "import", help="convert an external RGB-D source (NYUv2 .mat, KITTI, <stem>_depth.png folder) "
                       "to our Hugging Face schema",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    convert.add_argument("--data", required=True, help="the source path (see `ma-vlm eval depth --help`)")
    convert.add_argument("--output", required=True, help="output folder (data/*.parquet)")
    convert.add_argument("--format", default="auto", choices=["auto", "nyuv2", "kitti", "folder"])
    convert.add_argument("--source", default=None, help="source tag written in each record (default: the format)")
    convert.set_defaults(func=_import)

    llava = commands.add_parser("llava", help="write SynthSpatial as LLaVA-format conversations (JSONL + images)",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    llava.add_argument("--synthspatial", required=True, help="SynthSpatial folder (from `ma-vlm eval synthspatial`)")
    llava.add_argument("--split", default="train")
    llava.add_argument("--output", required=True, help="JSONL file; images go to <stem>_images/ beside it")
    llava.set_defaults(func=_llava)


def _llava(args) -> int:
    from ma_vlm.mllm.data import synthspatial_to_llava

    count = synthspatial_to_llava(args.synthspatial, args.output, args.split)
    print(f"{count} conversations -> {args.output}")
    return 0


def _generate(args) -> int:
    import time

    from ma_vlm.data.generate import GenerationConfig, generate_dataset
    from ma_vlm.data.scenes import LAYOUTS
    from ma_vlm.errors import MaVlmInputError
    from ma_vlm.inputs import ensure_output_dir

    for flag, value in (("--scenes", args.scenes), ("--workers", args.workers), ("--camera-models", args.camera_models)):
        if value < 1:
            raise MaVlmInputError(f"{flag} must be >= 1, got {value}")
    layouts = tuple(s.strip() for s in args.layouts.split(",") if s.strip())
    if not layouts or any(layout not in LAYOUTS for layout in layouts):
        raise MaVlmInputError(f"--layouts {args.layouts!r}: choose from {', '.join(LAYOUTS)}.")
    config = GenerationConfig(
        num_scenes=args.scenes, seed=args.seed, num_camera_models=args.camera_models,
        max_side_px=args.max_side, min_side_px=args.min_side, layouts=layouts,
        sources=tuple(s.strip() for s in args.sources.split(",") if s.strip()),
    )
    ensure_output_dir(args.output)
    start = time.perf_counter()
    output = generate_dataset(args.output, config, workers=args.workers)
    seconds = time.perf_counter() - start
    print(f"wrote {args.scenes} scenes to {output} in {seconds:.1f} s "
          f"({args.scenes / seconds:.1f} scenes/s, {args.workers} workers)")
    return 0


def _import(args) -> int:
    from ma_vlm.benchmarks.depth.readers import open_depth_benchmark
    from ma_vlm.data.loading import write_rgbd_shards
    from ma_vlm.errors import MaVlmInputError
    from ma_vlm.inputs import ensure_output_dir

    benchmark = open_depth_benchmark(args.data, args.format)
    if benchmark.num_samples == 0:
        raise MaVlmInputError(f"--data {args.data} holds no RGB-D pairs (a folder needs <stem>.png, <stem>_depth.png "
                              "uint16 mm and <stem>.json per image); nothing to import")
    ensure_output_dir(args.output)
    source = args.source or benchmark.name
    records = ({**sample, "source": source} for sample in benchmark.samples())
    count = write_rgbd_shards(records, args.output, total=benchmark.num_samples)
    print(f"wrote {count} records ({benchmark.name} -> source {source!r}) to {args.output}")
    return 0
