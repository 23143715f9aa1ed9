"""Pretraining the prompt-based teacher, distilling prompt-free students, scaling studies.

`losses` (masked log-depth losses), `recipe` (YAML recipes -> dataclasses), `data` (noisy-source
mixture with `datasets.interleave_datasets`), `trainer` (accelerate loop, resumable checkpoints),
`distill` (teacher -> student targets), `scaling` (error vs data size), `cli` (`ma-vlm pretrain`,
`ma-vlm distill`, `ma-vlm scaling`).
"""
