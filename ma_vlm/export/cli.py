"""`ma-vlm export onnx MODEL_DIR OUT_DIR`."""

from __future__ import annotations

import argparse

HELP = (
    "a depth model (prompt-free student) or a Student-PointMap model as OUT_DIR/model.onnx, with its "
    "preprocessor_config.json. Dynamic batch; the image side is fixed: the depth model's pyramid takes "
    "config.image_size px (1536 as published), and the point-map graph is traced at --height x --width "
    "(its token grid is rounded from that aspect ratio)"
)


def register(subparsers) -> None:
    export = subparsers.add_parser("export", help="serving graphs of the depth models")
    formats = export.add_subparsers(dest="format", required=True, metavar="FORMAT")
    onnx = formats.add_parser("onnx", help=HELP, description=HELP)
    onnx.add_argument("model_dir", metavar="MODEL_DIR")
    onnx.add_argument("out_dir", metavar="OUT_DIR", help="a new or empty folder")
    onnx.add_argument("--height", type=int, default=480, help="point-map models: image height in px (default 480)")
    onnx.add_argument("--width", type=int, default=640, help="point-map models: image width in px (default 640)")
    onnx.add_argument("--num-tokens", type=int, default=None, help="point-map models: ViT tokens (default: level 9)")
    onnx.set_defaults(func=run_export_onnx)


def run_export_onnx(args: argparse.Namespace) -> int:
    from ma_vlm.errors import MaVlmInputError
    from ma_vlm.export.onnx import check_out_dir, export_onnx
    from ma_vlm.model_folders import DEPTH_MODEL, POINTMAP_MODEL, ModelKind, check_model_folder

    check_out_dir(args.out_dir)
    either = ModelKind("a depth or Student-PointMap model", DEPTH_MODEL.made_by,
                       DEPTH_MODEL.model_types + POINTMAP_MODEL.model_types)
    check_model_folder(args.model_dir, "MODEL_DIR", either, hub=False)
    if min(args.height, args.width) < 14:
        raise MaVlmInputError(f"--height/--width {args.height} x {args.width}: give at least 14 px a side")
    graph, processor = _load(args)
    path = export_onnx(graph, processor, args.out_dir)
    print(f"wrote {path} ({type(graph).__name__}) and {args.out_dir}/preprocessor_config.json")
    return 0


def _load(args):
    from transformers import AutoConfig, AutoImageProcessor

    from ma_vlm.export.graphs import graph_for

    config = AutoConfig.from_pretrained(args.model_dir, trust_remote_code=False)
    if config.model_type == "metric_anything_pointmap":
        from ma_vlm.models.metric_anything_pointmap import MetricAnythingForPointMapEstimation as model_class
    else:
        from ma_vlm.errors import MaVlmInputError
        from ma_vlm.models.metric_anything import MetricAnythingForDepthEstimation as model_class

        if getattr(config, "use_prompt", False):
            raise MaVlmInputError(f"MODEL_DIR {args.model_dir} is a teacher (use_prompt=True, it needs a sparse "
                                  "depth prompt); export its prompt-free student (ma-vlm pretrain writes one)")
    model = model_class.from_pretrained(args.model_dir).eval()
    return graph_for(model, args.height, args.width, args.num_tokens), AutoImageProcessor.from_pretrained(args.model_dir, trust_remote_code=False)
