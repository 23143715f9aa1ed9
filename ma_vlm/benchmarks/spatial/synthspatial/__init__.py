"""SynthSpatial: a spatial QA benchmark generated from RGB-D scenes with known geometry."""

from ma_vlm.benchmarks.spatial.synthspatial.build import (
    SYNTHSPATIAL_KIND,
    build_synthspatial,
    check_synthspatial_folder,
    check_synthspatial_output,
    records_from_dataset,
    split_of,
    synthspatial_incomplete_reason,
)
from ma_vlm.benchmarks.spatial.synthspatial.questions import (
    SYNTHSPATIAL,
    SynthSpatialConfig,
    questions_for_record,
)

__all__ = [
    "SYNTHSPATIAL",
    "SYNTHSPATIAL_KIND",
    "SynthSpatialConfig",
    "build_synthspatial",
    "check_synthspatial_folder",
    "check_synthspatial_output",
    "questions_for_record",
    "records_from_dataset",
    "split_of",
    "synthspatial_incomplete_reason",
]
