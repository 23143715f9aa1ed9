"""``ma-vlm eval score``, ``ma-vlm eval spatial`` and ``ma-vlm eval synthspatial``.

score        rescore a JSONL prediction file (the benchmark's fields + ``prediction``).
spatial      run a Transformers image-text-to-text model over a benchmark, resumable, and score.
synthspatial build the SynthSpatial dataset folder from an RGB-D dataset folder.
"""

from __future__ import annotations

import os

from ma_vlm.errors import MaVlmInputError

BENCHMARK_HELP = "vsibench, synthspatial, cv_bench, blink, embspatial, 3dsrbench, sat, spatialbench"


def register(subparsers) -> None:
    score = subparsers.add_parser("score", help="score a prediction file with a benchmark's reference rules")
    score.add_argument("--benchmark", required=True, help=BENCHMARK_HELP)
    score.add_argument("--predictions", required=True, help="JSONL: one item per line with 'prediction'")
    score.add_argument("--output", required=True, help="report JSON (summary scores + per-item scores)")
    score.set_defaults(func=score_command)

    spatial = subparsers.add_parser("spatial", help="run a model over a spatial benchmark and score it")
    spatial.add_argument("--model", required=True, help="Transformers model id or folder (image-text-to-text)")
    spatial.add_argument("--benchmark", required=True, help=BENCHMARK_HELP)
    spatial.add_argument("--data", default=None, help="local copy (folder or file); default: the Hub dataset")
    spatial.add_argument("--split", default=None, help="dataset split (default: the benchmark's test split)")
    spatial.add_argument("--subset", action="append", default=None,
                         help="Hub config to read, repeatable (blink: Relative_Depth ...; 3dsrbench: 3dsr_circular)")
    spatial.add_argument("--output", required=True, help="report JSON")
    spatial.add_argument("--predictions", default=None, help="resumable JSONL (default: OUTPUT.predictions.jsonl)")
    spatial.add_argument("--batch-size", type=int, default=8)
    spatial.add_argument("--max-new-tokens", type=int, default=None)
    spatial.add_argument("--limit", type=int, default=None, help="answer at most this many new items, then stop")
    spatial.add_argument("--device", default=None, help="cuda, cpu ... (default: cuda when available)")
    spatial.add_argument("--dtype", default="auto", help="auto, bfloat16, float32 ...")
    spatial.set_defaults(func=spatial_command)

    synth = subparsers.add_parser("synthspatial", help="build SynthSpatial from an RGB-D dataset folder")
    synth.add_argument("--rgbd", required=True, help="dataset folder of ma_vlm.data RGB-D records")
    synth.add_argument("--rgbd-split", default="train")
    synth.add_argument("--output", required=True, help="folder for parquet splits + README.md")
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--questions-per-type", type=int, default=2)
    synth.set_defaults(func=synthspatial_command)


def score_command(args) -> int:
    from ma_vlm.benchmarks.spatial.scoring import format_table, score_file

    report = score_file(args.benchmark, args.predictions, args.output)
    print(format_table(report))
    return 0


def spatial_command(args) -> int:
    from pathlib import Path

    from ma_vlm.atomic_io import write_json_atomic
    from ma_vlm.benchmarks.spatial.registry import get_benchmark
    from ma_vlm.benchmarks.spatial.runner import ImageTextGenerator, run_benchmark
    from ma_vlm.benchmarks.spatial.scoring import format_table, score_items
    from ma_vlm.inputs import check_hub_id, check_output_file, refuse_custom_code

    benchmark = get_benchmark(args.benchmark)
    check_output_file(args.output)
    predictions = args.predictions or os.path.splitext(args.output)[0] + ".predictions.jsonl"
    check_output_file(predictions, "--predictions")
    if not Path(args.model).exists():
        check_hub_id(args.model, "--model")
    refuse_custom_code(args.model, "--model")
    if args.data is not None and not Path(args.data).exists():
        raise MaVlmInputError(f"--data {args.data} does not exist; give the local copy's folder or file, "
                              "or leave --data out to read the Hub dataset")
    if benchmark.name == "synthspatial" and args.data is not None and Path(args.data).is_dir():
        from ma_vlm.benchmarks.spatial.synthspatial import check_synthspatial_folder

        check_synthspatial_folder(args.data)  # before the model loads
    generator = ImageTextGenerator(args.model, device=args.device, dtype=args.dtype)
    records = run_benchmark(benchmark, generator, predictions, data=args.data, split=args.split,
                            batch_size=args.batch_size, max_new_tokens=args.max_new_tokens,
                            limit=args.limit, subsets=args.subset)  # fmt: skip
    report = score_items(benchmark.name, records)
    report.update({"model": args.model, "predictions": predictions})
    write_json_atomic(args.output, report)
    print(format_table(report))
    return 0


def synthspatial_command(args) -> int:
    from pathlib import Path

    from ma_vlm.benchmarks.spatial.synthspatial import (
        SynthSpatialConfig,
        build_synthspatial,
        check_synthspatial_output,
        records_from_dataset,
    )
    from ma_vlm.inputs import ensure_output_dir

    if args.questions_per_type < 1:
        raise MaVlmInputError(f"--questions-per-type must be >= 1, got {args.questions_per_type}")
    rgbd, output = Path(args.rgbd).resolve(), Path(args.output).resolve()
    if output == rgbd or output in rgbd.parents:  # an unmarked RGB-D folder can look like an unfinished build
        raise MaVlmInputError(f"--output {args.output} holds the --rgbd input {args.rgbd}; choose another folder")
    check_synthspatial_output(args.output)  # before the input is read
    ensure_output_dir(args.output)
    config = SynthSpatialConfig(questions_per_type=args.questions_per_type)
    dataset = build_synthspatial(records_from_dataset(args.rgbd, args.rgbd_split), args.output,
                                 seed=args.seed, config=config, source_name=f"`{args.rgbd}`")  # fmt: skip
    print(", ".join(f"{split}: {len(part)} questions" for split, part in dataset.items()), "->", args.output)
    return 0
