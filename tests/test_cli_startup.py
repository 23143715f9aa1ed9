"""`ma-vlm --help` (and every command's argument parsing) starts without torch or transformers."""

import subprocess
import sys


def test_building_the_parser_imports_neither_torch_nor_transformers():
    code = ("import sys; from ma_vlm.cli import build_parser; build_parser(); "
            "print(sorted(m for m in ('torch', 'transformers', 'ma_vlm.models.metric_anything.modeling_metric_anything') "
            "if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_the_auto_classes_know_metric_anything_once_transformers_loads(tmp_path):
    """`import ma_vlm` (by the CLI) registered the model type before Transformers was loaded."""
    code = ("import sys; from ma_vlm.cli import main; "
            "code = main(['depth', sys.argv[1], '--model', 'x', '--output', sys.argv[2]]); "
            "import transformers; from transformers.models.auto.configuration_auto import CONFIG_MAPPING; "
            "print(code, 'metric_anything' in CONFIG_MAPPING)")
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path / "missing.png"), str(tmp_path / "out")],
                            capture_output=True, text=True, check=True)
    assert result.stdout.split()[-2:] == ["2", "True"], result.stderr[-2000:]


def test_importing_the_packages_loads_no_torch_until_a_name_is_used():
    code = ("import sys; import ma_vlm, ma_vlm.models.metric_anything, ma_vlm.models.metric_anything_pointmap, "
            "ma_vlm.mllm, ma_vlm.depth; before = 'torch' in sys.modules; "
            "from transformers.models.auto.configuration_auto import CONFIG_MAPPING; "
            "known = all(t in CONFIG_MAPPING for t in ('metric_anything', 'metric_anything_pointmap')); "
            "ma_vlm.MetricAnythingForDepthEstimation; print(before, known, 'torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "True", "True"], result.stderr[-2000:]
