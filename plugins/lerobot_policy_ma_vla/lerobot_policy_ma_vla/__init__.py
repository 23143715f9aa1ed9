"""Imported by LeRobot's plugin discovery: registers the `ma_vla` policy type and its processor step.

LeRobot finds the modeling and processor modules from the config's module by naming convention
(configuration_ma_vla -> modeling_ma_vla / processor_ma_vla); the processor module is imported
here too so a saved pipeline's `ma_vla_tokenizer` step resolves from the registry.
"""

import ma_vlm.vla.configuration_ma_vla  # noqa: F401
import ma_vlm.vla.processor_ma_vla  # noqa: F401
