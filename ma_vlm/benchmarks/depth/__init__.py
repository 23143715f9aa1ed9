"""Metric depth evaluation (``ma-vlm eval depth``).

  metrics.py    AbsRel, RMSE, delta... and the NYUv2 / KITTI protocols (crops, caps)
  readers.py    NYUv2 .mat, KITTI depth selection, PNG folders, HF datasets as ``DepthBenchmark``
  baselines.py  nearest / linear interpolation of the prompt (the floor for a teacher)
  runner.py     the evaluation runner: ``evaluate_depth``, ``load_predictor``, ``write_report``
  cli.py        ``ma-vlm eval depth``
"""
