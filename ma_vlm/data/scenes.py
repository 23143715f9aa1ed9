"""Procedural scenes: rooms, tabletops and streets made of MuJoCo primitives.

``sample_scene(layout, rng)`` draws a ``SceneSpec`` (pure data: objects, background, camera
pose, light); ``scene_to_mjcf`` turns it into an MJCF string. The renderer (``render.py``) only
reads specs, so a scene can be saved, inspected or rebuilt without MuJoCo.

World frame: MuJoCo's, z up, metres. Each object is one body whose geoms share an instance id;
its 3D box is the axis-aligned box of its geoms in the object frame (yaw about world z).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

LAYOUTS = ("room", "tabletop", "street")

# Named colours (a noun a question can use) with sRGB values in [0, 1].
COLORS = {
    "red": (0.80, 0.10, 0.10), "green": (0.15, 0.65, 0.20), "blue": (0.12, 0.25, 0.80),
    "yellow": (0.92, 0.85, 0.15), "orange": (0.95, 0.50, 0.10), "purple": (0.50, 0.20, 0.65),
    "pink": (0.95, 0.55, 0.70), "brown": (0.45, 0.28, 0.12), "white": (0.92, 0.92, 0.90),
    "black": (0.06, 0.06, 0.07), "gray": (0.50, 0.50, 0.52), "cyan": (0.15, 0.75, 0.80),
}
TEXTURES = ("flat", "checker", "gradient", "noise")


@dataclass
class Geom:
    """One MuJoCo primitive in its body's frame. ``size`` follows MJCF (half sizes, radii)."""

    shape: str  # "box", "cylinder", "sphere", "plane"
    size: tuple[float, ...]
    pos: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def half_extents(self) -> np.ndarray:
        if self.shape == "box":
            return np.array(self.size[:3])
        if self.shape == "cylinder":
            return np.array([self.size[0], self.size[0], self.size[1]])
        return np.array([self.size[0]] * 3)  # sphere


@dataclass
class SceneObject:
    """A countable object: one body, one instance id, one colour name."""

    category: str
    color: str
    rgb: tuple[float, float, float]
    texture: str
    geoms: list[Geom]
    position_m: tuple[float, float, float]  # body origin in the world
    yaw_rad: float

    def local_box(self) -> tuple[np.ndarray, np.ndarray]:
        """(centre, full size) of the geoms' axis-aligned box in the object frame, metres."""
        lows = np.array([np.array(g.pos) - g.half_extents() for g in self.geoms]).min(0)
        highs = np.array([np.array(g.pos) + g.half_extents() for g in self.geoms]).max(0)
        return (lows + highs) / 2.0, highs - lows


@dataclass
class SceneSpec:
    scene_id: str
    layout: str
    objects: list[SceneObject]
    background: list[tuple[Geom, tuple[float, float, float], str]]  # geom, rgb, texture
    camera_position_m: np.ndarray
    camera_target_m: np.ndarray
    light_intensity: float
    far_m: float
    texture_seed: int = 0
    notes: dict = field(default_factory=dict)


# --- object makers: each returns geoms in the object frame, resting on z = 0 -----------------

def _box(sx, sy, sz, x=0.0, y=0.0, z0=0.0):
    return Geom("box", (sx / 2, sy / 2, sz / 2), (x, y, z0 + sz / 2))


def _make_table(rng):
    w, d, h = rng.uniform(0.8, 1.8), rng.uniform(0.6, 1.0), rng.uniform(0.65, 0.8)
    t = 0.04
    legs = [_box(0.05, 0.05, h - t, sx * (w / 2 - 0.06), sy * (d / 2 - 0.06))
            for sx in (-1, 1) for sy in (-1, 1)]
    return [_box(w, d, t, z0=h - t)] + legs


def _make_chair(rng):
    s, h = rng.uniform(0.4, 0.5), rng.uniform(0.42, 0.48)
    legs = [_box(0.04, 0.04, h, sx * (s / 2 - 0.03), sy * (s / 2 - 0.03))
            for sx in (-1, 1) for sy in (-1, 1)]
    back = _box(s, 0.04, rng.uniform(0.4, 0.5), y=-s / 2 + 0.02, z0=h)
    return legs + [_box(s, s, 0.04, z0=h), back]


def _make_cabinet(rng):
    return [_box(rng.uniform(0.4, 1.2), rng.uniform(0.35, 0.6), rng.uniform(0.8, 2.0))]


def _make_sofa(rng):
    w, d = rng.uniform(1.4, 2.2), rng.uniform(0.8, 1.0)
    return [_box(w, d, 0.42), _box(w, 0.2, 0.45, y=-d / 2 + 0.1, z0=0.42),
            _box(0.18, d, 0.2, x=-w / 2 + 0.09, z0=0.42), _box(0.18, d, 0.2, x=w / 2 - 0.09, z0=0.42)]


def _make_lamp(rng):
    h = rng.uniform(1.2, 1.7)
    return [Geom("cylinder", (0.15, 0.02), (0, 0, 0.02)), Geom("cylinder", (0.02, h / 2), (0, 0, h / 2)),
            Geom("sphere", (rng.uniform(0.12, 0.2),), (0, 0, h))]


def _make_plant(rng):
    pot = rng.uniform(0.12, 0.22)
    return [Geom("cylinder", (pot, pot), (0, 0, pot)), Geom("sphere", (pot * 1.8,), (0, 0, 2 * pot + pot * 1.5))]


def _make_box(rng, lo=0.2, hi=0.7):
    return [_box(*rng.uniform(lo, hi, size=3))]


def _make_ball(rng, lo=0.1, hi=0.35):
    r = rng.uniform(lo, hi)
    return [Geom("sphere", (r,), (0, 0, r))]


def _make_cup(rng):
    r, h = rng.uniform(0.03, 0.05), rng.uniform(0.08, 0.12)
    return [Geom("cylinder", (r, h / 2), (0, 0, h / 2))]


def _make_bottle(rng):
    r, h = rng.uniform(0.03, 0.045), rng.uniform(0.18, 0.3)
    return [Geom("cylinder", (r, h * 0.35), (0, 0, h * 0.35)),
            Geom("cylinder", (r * 0.4, h * 0.15), (0, 0, h * 0.85))]


def _make_book(rng):
    return [_box(rng.uniform(0.15, 0.25), rng.uniform(0.2, 0.3), rng.uniform(0.02, 0.06))]


def _make_car(rng):
    length, w = rng.uniform(3.8, 4.8), rng.uniform(1.7, 1.9)
    wheels = [Geom("sphere", (0.33,), (sx * (length / 2 - 0.7), sy * (w / 2 - 0.15), 0.33))
              for sx in (-1, 1) for sy in (-1, 1)]
    return [_box(length, w, 0.7, z0=0.3), _box(length * 0.55, w * 0.9, 0.55, x=-0.2, z0=1.0)] + wheels


def _make_building(rng):
    return [_box(rng.uniform(8, 20), rng.uniform(8, 14), rng.uniform(6, 30))]


def _make_pole(rng):
    h = rng.uniform(3, 6)
    return [Geom("cylinder", (0.08, h / 2), (0, 0, h / 2))]


def _make_person(rng):
    h = rng.uniform(1.5, 1.9)
    return [Geom("cylinder", (0.18, (h - 0.25) / 2), (0, 0, (h - 0.25) / 2)),
            Geom("sphere", (0.12,), (0, 0, h - 0.12))]


MAKERS = {
    "table": _make_table, "chair": _make_chair, "cabinet": _make_cabinet, "sofa": _make_sofa,
    "lamp": _make_lamp, "plant": _make_plant, "box": _make_box, "ball": _make_ball,
    "cup": _make_cup, "bottle": _make_bottle, "book": _make_book, "car": _make_car,
    "building": _make_building, "pole": _make_pole, "person": _make_person,
}
ROOM_CATEGORIES = ("table", "chair", "cabinet", "sofa", "lamp", "plant", "box", "ball")
TABLETOP_CATEGORIES = ("cup", "bottle", "book", "box", "ball")
STREET_CATEGORIES = ("car", "pole", "person", "box")


def _pick_color(rng):
    name = list(COLORS)[rng.integers(len(COLORS))]
    rgb = np.clip(np.array(COLORS[name]) + rng.normal(0, 0.03, 3), 0, 1)
    return name, tuple(float(v) for v in rgb)


def _new_object(rng, category, xy, z=0.0, yaw=None, size_kwargs=None):
    name, rgb = _pick_color(rng)
    maker = MAKERS[category]
    geoms = maker(rng, **(size_kwargs or {}))
    yaw = float(rng.uniform(-math.pi, math.pi)) if yaw is None else yaw
    return SceneObject(category, name, rgb, TEXTURES[rng.integers(len(TEXTURES))], geoms,
                       (float(xy[0]), float(xy[1]), float(z)), yaw)


def _footprint_radius(obj: SceneObject) -> float:
    centre, size = obj.local_box()
    return float(np.hypot(size[0], size[1]) / 2 + np.hypot(centre[0], centre[1]))


def _place(rng, objects, candidate_fn, tries=30):
    """Rejection-sample a position whose footprint circle misses the placed objects."""
    for _ in range(tries):
        obj = candidate_fn()
        r = _footprint_radius(obj)
        if all(np.hypot(obj.position_m[0] - o.position_m[0], obj.position_m[1] - o.position_m[1])
               > r + _footprint_radius(o) for o in objects):
            objects.append(obj)
            return


def _bg_color(rng, lo=0.3, hi=0.9):
    return tuple(float(v) for v in rng.uniform(lo, hi, 3))


def _room(rng, scene_id):
    sx, sy, h = rng.uniform(3.5, 8), rng.uniform(3.5, 8), rng.uniform(2.5, 3.2)
    t = 0.1
    bg = [(_box(sx + 2 * t, sy + 2 * t, t, z0=-t), _bg_color(rng), "checker"),
          (_box(sx + 2 * t, sy + 2 * t, t, z0=h), _bg_color(rng, 0.7, 0.95), "flat")]
    for x, y, ex, ey in ((sx / 2 + t / 2, 0, t, sy), (-sx / 2 - t / 2, 0, t, sy),
                         (0, sy / 2 + t / 2, sx, t), (0, -sy / 2 - t / 2, sx, t)):
        bg.append((_box(ex, ey, h, x, y), _bg_color(rng, 0.4, 0.95), TEXTURES[rng.integers(4)]))
    objects: list[SceneObject] = []
    for _ in range(rng.integers(3, 11)):
        cat = ROOM_CATEGORIES[rng.integers(len(ROOM_CATEGORIES))]
        _place(rng, objects, lambda: _new_object(
            rng, cat, rng.uniform([-sx / 2 + 0.5, -sy / 2 + 0.5], [sx / 2 - 0.5, sy / 2 - 0.5])))
    angle = rng.uniform(-math.pi, math.pi)
    cam = np.array([math.cos(angle) * (sx / 2 - 0.3), math.sin(angle) * (sy / 2 - 0.3),
                    rng.uniform(1.1, 1.9)])
    target = np.array([*rng.uniform([-sx / 4, -sy / 4], [sx / 4, sy / 4]), rng.uniform(0.3, 1.0)])
    return bg, objects, cam, target, 30.0


def _tabletop(rng, scene_id):
    tw, td, th = rng.uniform(1.0, 2.0), rng.uniform(0.7, 1.2), rng.uniform(0.7, 0.8)
    bg = [(Geom("plane", (10, 10, 0.1)), _bg_color(rng), "checker"),
          (_box(tw, td, 0.05, z0=th - 0.05), _bg_color(rng, 0.2, 0.9), TEXTURES[rng.integers(4)])]
    bg.append((_box(0.2, 12, 3, x=rng.uniform(1.5, 3.0)), _bg_color(rng, 0.5, 0.95), "flat"))
    objects: list[SceneObject] = []
    for _ in range(rng.integers(3, 9)):
        cat = TABLETOP_CATEGORIES[rng.integers(len(TABLETOP_CATEGORIES))]
        kwargs = {"box": {"lo": 0.05, "hi": 0.2}, "ball": {"lo": 0.03, "hi": 0.08}}.get(cat)
        _place(rng, objects, lambda: _new_object(
            rng, cat, rng.uniform([-tw / 2 + 0.1, -td / 2 + 0.1], [tw / 2 - 0.1, td / 2 - 0.1]),
            z=th, size_kwargs=kwargs))
    angle, dist = rng.uniform(-math.pi, math.pi), rng.uniform(0.6, 1.3)
    cam = np.array([math.cos(angle) * dist, math.sin(angle) * dist, th + rng.uniform(0.3, 0.8)])
    target = np.array([*rng.uniform(-0.15, 0.15, 2), th])
    return bg, objects, cam, target, 30.0


def _street(rng, scene_id):
    road_w, length = rng.uniform(7, 14), 120.0
    bg = [(Geom("plane", (length, length, 0.1)), _bg_color(rng, 0.3, 0.6), "noise"),
          (_box(length * 2, road_w, 0.01), _bg_color(rng, 0.15, 0.3), "flat")]
    objects: list[SceneObject] = []
    for side in (-1, 1):
        x = -20.0
        while x < 90:
            obj = _new_object(rng, "building", (0, 0), yaw=0.0)
            _, size = obj.local_box()
            obj.position_m = (x + size[0] / 2, side * (road_w / 2 + 3 + size[1] / 2), 0.0)
            objects.append(obj)
            x += size[0] + rng.uniform(0.5, 6)
    for _ in range(rng.integers(3, 12)):
        cat = STREET_CATEGORIES[rng.integers(len(STREET_CATEGORIES))]
        if cat == "car":
            lane = rng.choice([-1, 1]) * road_w / 4
            _place(rng, objects, lambda: _new_object(
                rng, "car", (rng.uniform(4, 60), lane), yaw=float(rng.normal(0, 0.1))))
        else:
            y = rng.choice([-1, 1]) * rng.uniform(road_w / 2 + 0.5, road_w / 2 + 2.5)
            _place(rng, objects, lambda: _new_object(rng, cat, (rng.uniform(3, 50), y)))
    cam = np.array([0.0, rng.uniform(-road_w / 4, road_w / 4), rng.uniform(1.4, 2.0)])
    target = np.array([30.0, rng.uniform(-3, 3), rng.uniform(0.0, 2.5)])
    return bg, objects, cam, target, 150.0


def sample_scene(layout: str, rng: np.random.Generator, scene_id: str = "") -> SceneSpec:
    """Draw one scene of ``layout`` ("room", "tabletop", "street") from ``rng``."""
    builder = {"room": _room, "tabletop": _tabletop, "street": _street}[layout]
    bg, objects, cam, target, far_m = builder(rng, scene_id)
    return SceneSpec(scene_id, layout, objects, bg, cam, target, float(rng.uniform(0.5, 0.9)),
                     far_m, texture_seed=int(rng.integers(2**31)))


# --- MJCF -----------------------------------------------------------------------------------

def look_at_xyaxes(position: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """MuJoCo camera x (right) and y (up) axes for a camera at ``position`` looking at ``target``."""
    forward = np.asarray(target, float) - np.asarray(position, float)
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    if np.linalg.norm(right) < 1e-6:  # looking straight down or up
        right = np.array([1.0, 0.0, 0.0])
    right /= np.linalg.norm(right)
    return right, np.cross(right, forward)


def _fmt(values) -> str:
    return " ".join(f"{float(v):.6g}" for v in values)


def _material(name: str, rgb, texture: str, index: int, seed: int) -> str:
    rgb = np.asarray(rgb)
    if texture == "flat":
        return f'<material name="{name}" rgba="{_fmt(rgb)} 1" specular="0.1"/>'
    dark = np.clip(rgb * 0.6, 0, 1)
    if texture == "checker":
        tex = f'builtin="checker" rgb1="{_fmt(rgb)}" rgb2="{_fmt(dark)}"'
    elif texture == "gradient":
        tex = f'builtin="gradient" rgb1="{_fmt(rgb)}" rgb2="{_fmt(dark)}"'
    else:
        tex = (f'builtin="flat" rgb1="{_fmt(rgb)}" rgb2="{_fmt(dark)}" mark="random" '
               f'random="{0.2 + 0.1 * (seed % 5):.2f}" markrgb="{_fmt(dark)}"')
    repeat = 4 + (seed + index) % 8
    return (f'<texture name="{name}" type="2d" width="32" height="32" {tex}/>'
            f'<material name="{name}" texture="{name}" texrepeat="{repeat} {repeat}" '
            f'texuniform="true" specular="0.1"/>')


def _geom_xml(geom: Geom, material: str) -> str:
    size = geom.size if geom.shape != "plane" else geom.size[:3]
    return (f'<geom type="{geom.shape}" size="{_fmt(size)}" pos="{_fmt(geom.pos)}" '
            f'material="{material}"/>')


def scene_to_mjcf(spec: SceneSpec, width_px: int, height_px: int, fovy_deg: float) -> str:
    """An MJCF model of ``spec`` with one camera named ``view`` and an offscreen buffer that fits
    ``width_px`` x ``height_px``. znear/zfar are fractions of ``statistic extent`` = 1 m.
    Multisampling is off: a resolved multisample buffer gives depth and segment ids of one
    sample off the pixel centre (or blends of ids), so every pass samples the pixel centre."""
    assets, bodies = [], []
    for i, (geom, rgb, texture) in enumerate(spec.background):
        assets.append(_material(f"bg{i}", rgb, texture, i, spec.texture_seed))
        bodies.append(_geom_xml(geom, f"bg{i}"))
    for i, obj in enumerate(spec.objects):
        assets.append(_material(f"obj{i}", obj.rgb, obj.texture, i, spec.texture_seed))
        geoms = "".join(_geom_xml(g, f"obj{i}") for g in obj.geoms)
        bodies.append(f'<body name="obj{i}" pos="{_fmt(obj.position_m)}" '
                      f'euler="0 0 {obj.yaw_rad:.9g}">{geoms}</body>')
    x_axis, y_axis = look_at_xyaxes(spec.camera_position_m, spec.camera_target_m)
    light = spec.light_intensity
    # A sky for outdoor layouts: colour only, its pixels get depth 0 (no geom hit).
    sky = ('<texture type="skybox" builtin="gradient" rgb1="0.55 0.7 0.95" rgb2="0.95 0.95 1" '
           'width="64" height="64"/>') if spec.layout == "street" else ""
    return f"""<mujoco model="{spec.scene_id or spec.layout}">
  <compiler angle="radian"/>
  <statistic extent="1" center="0 0 0"/>
  <visual>
    <global offwidth="{width_px}" offheight="{height_px}"/>
    <map znear="0.01" zfar="{spec.far_m:.6g}"/>
    <headlight ambient="{_fmt([0.35 * light] * 3)}" diffuse="{_fmt([0.5 * light] * 3)}" specular="0.05 0.05 0.05"/>
    <quality shadowsize="0" offsamples="0"/>
  </visual>
  <asset>{sky}{''.join(assets)}</asset>
  <worldbody>
    <light directional="true" dir="-0.3 -0.2 -1" diffuse="{_fmt([0.4 * light] * 3)}" castshadow="false"/>
    <camera name="view" pos="{_fmt(spec.camera_position_m)}" xyaxes="{_fmt(x_axis)} {_fmt(y_axis)}"
            fovy="{fovy_deg:.12g}"/>
    {''.join(bodies)}
  </worldbody>
</mujoco>"""
