"""Build step beside pyproject.toml: the wheel carries `recipes/` and `examples/` as package data
under `ma_vlm/_data/` (read by `ma_vlm/resources.py`), so an installed package runs `ma-vlm demo`
and finds the recipes it names. An editable install reads them from the checkout instead."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

SHIPPED_FOLDERS = ("recipes", "examples")


class BuildWithShippedFolders(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        for name in SHIPPED_FOLDERS:
            source = Path(__file__).parent / name
            target = Path(self.build_lib) / "ma_vlm" / "_data" / name
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(source, target)


setup(cmdclass={"build_py": BuildWithShippedFolders})
