"""Benchmarks, one folder per family, one protocol: a family's ``cli.py`` registers its
``ma-vlm eval`` sub-commands (assembled in ``benchmarks/cli.py``) and writes a JSON report.

- ``depth/``    metric depth metrics on NYUv2, KITTI, folders, HF datasets (``ma-vlm eval depth``)
- ``spatial/``  spatial-QA scorers, runner and SynthSpatial (``ma-vlm eval score|spatial|synthspatial``)
"""
