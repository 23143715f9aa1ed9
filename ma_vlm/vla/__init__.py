"""A LeRobot policy plugin (`ma_vla`): Metric Anything tower + instruction + state -> flow-matching
action chunks, with per-token metric-depth distillation; MetaWorld demonstrations and evaluation.

Importing `ma_vlm.vla.configuration_ma_vla` registers the `ma_vla` policy type with LeRobot; the
installed distribution `lerobot_policy_ma_vla` does it for `lerobot-train` / `lerobot-eval`.
"""
