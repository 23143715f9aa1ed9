"""SynthSpatial: a spatial QA benchmark generated from RGB-D scenes with known geometry."""

from ma_vlm.benchmarks.spatial.synthspatial.build import (
    build_synthspatial,
    records_from_dataset,
    split_of,
)
from ma_vlm.benchmarks.spatial.synthspatial.questions import (
    SYNTHSPATIAL,
    SynthSpatialConfig,
    questions_for_record,
)

__all__ = [
    "SYNTHSPATIAL",
    "SynthSpatialConfig",
    "build_synthspatial",
    "questions_for_record",
    "records_from_dataset",
    "split_of",
]
