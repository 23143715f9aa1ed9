"""SynthSpatial questions: VSI-Bench-style spatial QA whose answers come from scene geometry.

Input is one ``RGBDRecord`` (``ma_vlm.data.schema``): instances with ``category``, ``color``,
``center_m`` (OpenCV camera frame: x right, y down, z forward, metres), ``size_m`` and the
``instance_mask``. Nothing is estimated by a model: every answer is computed from those numbers.

Question types and how they are scored (``SYNTHSPATIAL``, VSI-Bench's rules):

=========================  ========================================================  =========
type                       answer                                                    metric
=========================  ========================================================  =========
object_abs_distance        distance between two object centres, metres (2 dp)        MRA
object_size_estimation     longest side of an object's box, centimetres (integer)    MRA
object_camera_distance     distance from the camera centre to an object centre, m   MRA
object_counting            number of visible instances of a category                 MRA
object_depth_order         which of two objects is closer to the camera              accuracy
object_rel_distance        which of 2-4 objects is closest to a reference object     accuracy
object_rel_direction_*     standing at X facing Y, where is Z (easy: left/right;     accuracy
                           medium: left/right/back; hard: front/back-left/right)
=========================  ========================================================  =========

Objects are named "the {color} {category}" and only when that name is unique in the scene and
the object shows at least ``min_pixels`` pixels. Comparisons are asked only with a clear margin
(``relative_margin``, ``direction_margin_deg``), so the ground truth is never a coin toss.
Directions live in the floor plane: ``world_up`` (world frame, z-up by default as in MuJoCo and
ScanNet) is mapped into the camera frame with the record's ``camera_to_world``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ma_vlm.benchmarks.spatial.vsibench import REL_DIRECTION_TYPES, VsiStyleScorer

SYNTHSPATIAL_NA_TYPES = ("object_abs_distance", "object_size_estimation", "object_camera_distance", "object_counting")
SYNTHSPATIAL_MCA_TYPES = ("object_depth_order", "object_rel_distance", *REL_DIRECTION_TYPES)
SYNTHSPATIAL = VsiStyleScorer("synthspatial", SYNTHSPATIAL_MCA_TYPES, SYNTHSPATIAL_NA_TYPES)

# Direction sectors: (label, low_deg, high_deg) of the bearing theta, 0 = straight ahead,
# +90 = right. Items whose bearing lies within the margin of a sector edge are not asked.
DIRECTION_SECTORS = {
    "object_rel_direction_easy": [("left", -180, 0), ("right", 0, 180)],
    "object_rel_direction_medium": [("left", -135, -45), ("right", 45, 135), ("back", 135, 225)],
    "object_rel_direction_hard": [
        ("front-left", -90, 0), ("front-right", 0, 90), ("back-right", 90, 180), ("back-left", 180, 270),
    ],
}  # fmt: skip
DIRECTION_QUESTIONS = {
    "object_rel_direction_easy": "to my left or the right",
    "object_rel_direction_medium": "to my left, right, or back",
    "object_rel_direction_hard": "to my front-left, front-right, back-left, or back-right",
}


@dataclass(frozen=True)
class SynthSpatialConfig:
    """Knobs of the generator; the defaults make the published SynthSpatial."""

    questions_per_type: int = 2  # at most this many questions of each type per image
    min_pixels: int = 30  # an object smaller than this in the mask is not asked about
    relative_margin: float = 0.15  # compared distances differ by at least this fraction
    direction_margin_deg: float = 15.0  # bearings this close to a sector edge are skipped
    min_separation_m: float = 0.10  # standing/facing objects at least this far apart
    world_up: tuple[float, float, float] = (0.0, 0.0, 1.0)


@dataclass(frozen=True)
class SceneObject:
    name: str  # "red box"
    category: str
    center_m: np.ndarray  # (3,) camera frame, metres
    size_m: np.ndarray  # (3,) box extent, metres


def plural(noun: str) -> str:
    return noun + ("es" if noun.endswith(("s", "x", "ch", "sh")) else "s")


def _pixel_counts(record) -> dict[int, int]:
    mask = record.get("instance_mask")
    if mask is None:
        return {int(inst["instance_id"]): int(inst["pixel_count"]) for inst in record["instances"]}
    ids, counts = np.unique(np.asarray(mask), return_counts=True)
    return {int(i): int(c) for i, c in zip(ids, counts) if i > 0}


def referable_objects(record, config: SynthSpatialConfig) -> list[SceneObject]:
    """Objects a question may name: visible enough, and "{color} {category}" unique."""
    pixels = _pixel_counts(record)
    names = [f"{inst['color']} {inst['category']}".strip() for inst in record["instances"]]
    objects = []
    for inst, name in zip(record["instances"], names):
        if names.count(name) == 1 and pixels.get(int(inst["instance_id"]), 0) >= config.min_pixels:
            objects.append(SceneObject(name, inst["category"], np.asarray(inst["center_m"], float),
                                       np.asarray(inst["size_m"], float)))  # fmt: skip
    return objects


def _letter_options(rng, labels: list[str], answer: str) -> tuple[list[str], str]:
    """Shuffled "A. label" options and the answer's letter."""
    order = [labels[i] for i in rng.permutation(len(labels))]
    options = [f"{chr(65 + i)}. {label}" for i, label in enumerate(order)]
    return options, chr(65 + order.index(answer))


def _item(question_type, question, answer, options=(), unit="", objects=()):
    return {"question_type": question_type, "question": question, "options": list(options),
            "ground_truth": answer, "answer_unit": unit, "objects": list(objects)}  # fmt: skip


def _pairs(rng, objects, count):
    pairs = [(a, b) for i, a in enumerate(objects) for b in objects[i + 1 :]]
    return [pairs[i] for i in rng.permutation(len(pairs))[:count]]


def numeric_questions(rng, objects, record, config) -> list[dict]:
    """Absolute distance, size, camera distance and counting questions."""
    n = config.questions_per_type
    items = []
    for a, b in _pairs(rng, objects, n):
        distance_m = float(np.linalg.norm(a.center_m - b.center_m))
        question = f"What is the distance between the centres of the {a.name} and the {b.name} (in meters)?"
        items.append(_item("object_abs_distance", question, f"{distance_m:.2f}", unit="meters", objects=[a.name, b.name]))
    for index in rng.permutation(len(objects))[:n]:
        obj = objects[index]
        size_cm = round(float(obj.size_m.max()) * 100)
        if size_cm > 0:
            question = (f"What is the length of the longest dimension (length, width, or height) of the "
                        f"{obj.name}, measured in centimeters?")  # fmt: skip
            items.append(_item("object_size_estimation", question, str(size_cm), unit="centimeters", objects=[obj.name]))
    for index in rng.permutation(len(objects))[:n]:
        obj = objects[index]
        distance_m = float(np.linalg.norm(obj.center_m))
        question = f"How far is the centre of the {obj.name} from the camera (in meters)?"
        items.append(_item("object_camera_distance", question, f"{distance_m:.2f}", unit="meters", objects=[obj.name]))
    items += counting_questions(rng, record, config)
    return items


def counting_questions(rng, record, config) -> list[dict]:
    """"How many chairs are in the image?" for categories whose every instance is clearly
    visible or fully hidden (a sliver of an instance would make the count ambiguous)."""
    pixels = _pixel_counts(record)
    counts: dict[str, int] = {}
    ambiguous = set()
    for inst in record["instances"]:
        seen = pixels.get(int(inst["instance_id"]), 0)
        if 0 < seen < config.min_pixels:
            ambiguous.add(inst["category"])
        counts[inst["category"]] = counts.get(inst["category"], 0) + int(seen >= config.min_pixels)
    categories = sorted(c for c, k in counts.items() if k > 0 and c not in ambiguous)
    items = []
    for index in rng.permutation(len(categories))[: config.questions_per_type]:
        category = categories[index]
        question = f"How many {plural(category)} are in the image?"
        items.append(_item("object_counting", question, str(counts[category]), unit="count", objects=[category]))
    return items


def _clearly_smaller(first: float, second: float, margin: float) -> bool:
    return second >= first * (1 + margin)


def choice_questions(rng, objects, config) -> list[dict]:
    """Depth order and relative distance questions (multiple choice)."""
    n, margin = config.questions_per_type, config.relative_margin
    items = []
    for a, b in _pairs(rng, objects, 4 * n):
        if len([i for i in items if i["question_type"] == "object_depth_order"]) >= n:
            break
        da, db = np.linalg.norm(a.center_m), np.linalg.norm(b.center_m)
        near = a if da < db else b
        if _clearly_smaller(min(da, db), max(da, db), margin):
            options, answer = _letter_options(rng, [a.name, b.name], near.name)
            question = f"Which object is closer to the camera, the {a.name} or the {b.name}?"
            items.append(_item("object_depth_order", question, answer, options, objects=[a.name, b.name]))
    asked = 0
    for index in rng.permutation(len(objects)):
        if asked >= n or len(objects) < 3:
            break
        reference = objects[index]
        others = [objects[i] for i in rng.permutation(len(objects)) if objects[i] is not reference][:4]
        distances = sorted((float(np.linalg.norm(o.center_m - reference.center_m)), o.name) for o in others)
        if not _clearly_smaller(distances[0][0], distances[1][0], margin):
            continue
        names = [o.name for o in others]
        options, answer = _letter_options(rng, names, distances[0][1])
        question = (f"Measuring between object centres, which of these objects ({', '.join(names)}) "
                    f"is the closest to the {reference.name}?")  # fmt: skip
        items.append(_item("object_rel_distance", question, answer, options, objects=[reference.name, *names]))
        asked += 1
    return items


def bearing_deg(standing_m, facing_m, target_m, up) -> float | None:
    """Bearing of ``target`` seen from ``standing`` while facing ``facing``, in the floor plane:
    0 = ahead, +90 = right, +-180 = behind. ``None`` when standing and facing coincide."""
    def flat(v):
        return v - np.dot(v, up) * up

    forward = flat(facing_m - standing_m)
    if np.linalg.norm(forward) < 1e-9:
        return None
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, up)  # right-handed frames: forward x up points right
    offset = flat(target_m - standing_m)
    return math.degrees(math.atan2(float(np.dot(offset, right)), float(np.dot(offset, forward))))


def direction_label(question_type: str, bearing: float, margin_deg: float) -> str | None:
    """The sector label of a bearing, or ``None`` when it is within the margin of an edge."""
    for label, low, high in DIRECTION_SECTORS[question_type]:
        for angle in (bearing, bearing + 360, bearing - 360):
            if low + margin_deg <= angle <= high - margin_deg:
                return label
    return None


def direction_questions(rng, objects, record, config) -> list[dict]:
    """"If I am standing by the X and facing the Y, is the Z to my left or the right?"."""
    if len(objects) < 3:
        return []
    camera_to_world = np.asarray(record.get("camera_to_world", np.eye(4)), float).reshape(4, 4)
    up = camera_to_world[:3, :3].T @ np.asarray(config.world_up, float)
    up /= np.linalg.norm(up)
    triples = [(a, b, c) for a in objects for b in objects for c in objects if len({a.name, b.name, c.name}) == 3]
    items = []
    for question_type, sectors in DIRECTION_SECTORS.items():
        asked = 0
        for index in rng.permutation(len(triples)):
            if asked >= config.questions_per_type:
                break
            standing, facing, target = triples[index]
            separation = np.linalg.norm(facing.center_m - standing.center_m)
            bearing = bearing_deg(standing.center_m, facing.center_m, target.center_m, up)
            if bearing is None or separation < config.min_separation_m:
                continue
            label = direction_label(question_type, bearing, config.direction_margin_deg)
            if label is None:
                continue
            options, answer = _letter_options(rng, [s[0] for s in sectors], label)
            question = (f"If I am standing by the {standing.name} and facing the {facing.name}, "
                        f"is the {target.name} {DIRECTION_QUESTIONS[question_type]}?")  # fmt: skip
            items.append(_item(question_type, question, answer, options,
                               objects=[standing.name, facing.name, target.name]))  # fmt: skip
            asked += 1
    return items


def questions_for_record(record, rng: np.random.Generator, config: SynthSpatialConfig) -> list[dict]:
    """All SynthSpatial questions for one RGB-D record, in a fixed type order."""
    objects = referable_objects(record, config)
    return (
        numeric_questions(rng, objects, record, config)
        + choice_questions(rng, objects, config)
        + direction_questions(rng, objects, record, config)
    )
