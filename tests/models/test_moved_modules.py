"""The import paths of 0.1 still work for one release: each warns and gives the new objects."""

import importlib
import importlib.util
import sys
import warnings

import pytest

from ma_vlm.moved_modules import MOVED_MODULES


@pytest.fixture
def forget_old_paths():
    """Import the old names afresh, and leave sys.modules without them afterwards."""
    old = [name for name in sys.modules if name in MOVED_MODULES or name == "ma_vlm.encoders"]
    saved = {name: sys.modules.pop(name) for name in old}
    yield
    for name in [n for n in sys.modules if n in MOVED_MODULES or n == "ma_vlm.encoders"]:
        del sys.modules[name]
    sys.modules.update(saved)


@pytest.mark.parametrize("old, new", [
    ("ma_vlm.encoders.presets", "ma_vlm.models.metric_anything.presets"),
    ("ma_vlm.encoders.presets_pointmap", "ma_vlm.models.metric_anything_pointmap.presets"),
    ("ma_vlm.intrinsics_recovery", "ma_vlm.models.metric_anything_pointmap.camera_solver"),
    ("ma_vlm.encoders.cli", "ma_vlm.depth.cli"),
])
def test_an_old_module_path_warns_and_is_the_new_module(forget_old_paths, old, new):
    with pytest.warns(DeprecationWarning, match=f"{old} moved to {new}"):
        module = importlib.import_module(old)
    assert module is importlib.import_module(new)
    assert module.__spec__.name == new  # the new module keeps its own identity


def test_old_package_names_are_the_new_classes(forget_old_paths):
    from ma_vlm.models.metric_anything import preset_config
    from ma_vlm.models.metric_anything_pointmap import MetricAnythingPointMapConfig

    with pytest.warns(DeprecationWarning, match="ma_vlm.encoders moved to"):
        from ma_vlm.encoders import MetricAnythingPointMapConfig as old_config
        from ma_vlm.encoders import preset_config as old_preset_config
    assert old_config is MetricAnythingPointMapConfig and old_preset_config is preset_config
    with pytest.raises(ImportError):
        from ma_vlm.encoders import no_such_name  # noqa: F401


def test_every_old_path_names_a_module_that_exists():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        missing = [new for new in MOVED_MODULES.values() if importlib.util.find_spec(new) is None]
    assert not missing
