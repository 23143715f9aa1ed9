"""lmms-eval hooks for SynthSpatial: prompt, per-item scoring and VSI-Bench-style aggregates.

Scoring is ``ma_vlm.benchmarks``' SynthSpatial scorer (VSI-Bench rules: MRA for numerical
types, first-token letter match for multiple choice), so lmms-eval and ``ma-vlm eval score``
give identical numbers.
"""

from ma_vlm.benchmarks.spatial.question_prompts import vsi_style_text
from ma_vlm.benchmarks.spatial.synthspatial.questions import SYNTHSPATIAL

# metric name in the yaml -> key of the scorer's aggregate dict
AGGREGATE_KEYS = {
    "synthspatial_overall": "overall",
    "object_abs_distance_mra": "object_abs_distance_MRA:.5:.95:.05",
    "object_size_estimation_mra": "object_size_estimation_MRA:.5:.95:.05",
    "object_camera_distance_mra": "object_camera_distance_MRA:.5:.95:.05",
    "object_counting_mra": "object_counting_MRA:.5:.95:.05",
    "object_depth_order_accuracy": "object_depth_order_accuracy",
    "object_rel_distance_accuracy": "object_rel_distance_accuracy",
    "object_rel_direction_accuracy": "object_rel_direction_accuracy",
}


def synthspatial_doc_to_visual(doc):
    return [doc["image"].convert("RGB")]


def synthspatial_doc_to_text(doc, lmms_eval_specific_kwargs=None):
    return vsi_style_text(doc, (lmms_eval_specific_kwargs or {}).get("pre_prompt", ""))


def synthspatial_doc_to_messages(doc, lmms_eval_specific_kwargs=None):
    content = [{"type": "image", "url": image} for image in synthspatial_doc_to_visual(doc)]
    content.append({"type": "text", "text": synthspatial_doc_to_text(doc, lmms_eval_specific_kwargs)})
    return [{"role": "user", "content": content}]


def synthspatial_process_results(doc, results):
    row = SYNTHSPATIAL.score_item({**doc, "prediction": results[0]})
    return {metric: row for metric in AGGREGATE_KEYS}


def _aggregate(key):
    def aggregate(rows):
        return round(SYNTHSPATIAL.aggregate(rows).get(key, 0.0), 6)

    aggregate.__name__ = f"aggregate_{key}"
    return aggregate


synthspatial_aggregate_overall = _aggregate("overall")
synthspatial_aggregate_object_abs_distance = _aggregate(AGGREGATE_KEYS["object_abs_distance_mra"])
synthspatial_aggregate_object_size_estimation = _aggregate(AGGREGATE_KEYS["object_size_estimation_mra"])
synthspatial_aggregate_object_camera_distance = _aggregate(AGGREGATE_KEYS["object_camera_distance_mra"])
synthspatial_aggregate_object_counting = _aggregate(AGGREGATE_KEYS["object_counting_mra"])
synthspatial_aggregate_object_depth_order = _aggregate("object_depth_order_accuracy")
synthspatial_aggregate_object_rel_distance = _aggregate("object_rel_distance_accuracy")
synthspatial_aggregate_object_rel_direction = _aggregate("object_rel_direction_accuracy")
