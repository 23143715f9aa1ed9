"""Spatial question answering: reference-exact scorers, loaders, SynthSpatial and the model runner.

- ``registry.get_benchmark(name)``: vsibench, synthspatial, cv_bench, blink, embspatial,
  3dsrbench, sat, spatialbench -- each with its Hub id, prompt builder and scorer.
- ``question_prompts``: the text prompt each benchmark's reference uses.
- ``scoring.score_items`` / ``scoring.score_file``: score predictions (``ma-vlm eval score``).
- ``runner.run_benchmark``: generate answers with any Transformers image-text-to-text model,
  resumable (``ma-vlm eval spatial``).
- ``synthspatial``: build the SynthSpatial dataset from RGB-D records.
- ``lmms_eval_model``: the lmms-eval model adapter (``lmms_eval.models`` entry point).
"""
