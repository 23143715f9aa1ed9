"""A hand-built RGB-D scene for the benchmark tests: boxes with known centres and sizes painted
into depth, instance mask and image through a pinhole camera."""

import numpy as np

FX = FY = 80.0
WIDTH, HEIGHT = 128, 96
# A level camera: camera x -> world x (east), camera y (down) -> world -z, camera z -> world y.
LEVEL_CAMERA_TO_WORLD = np.array([[1, 0, 0, 0], [0, 0, 1, 0], [0, -1, 0, 1.2], [0, 0, 0, 1]], float)
OBJECTS = [  # color, category, centre in the camera frame (m), box size (m)
    ("red", "box", (-1.0, 0.0, 3.0), (0.4, 0.4, 0.4)),
    ("blue", "chair", (1.0, 0.0, 3.0), (0.5, 0.9, 0.5)),
    ("green", "lamp", (0.0, 0.0, 5.0), (0.3, 1.5, 0.3)),
    ("yellow", "box", (0.0, 0.2, 2.0), (0.2, 0.2, 0.2)),
]


def painted_record(scene_id="kitchen", objects=OBJECTS):
    """Boxes painted far to near into depth / mask / image as their projected rectangles."""
    depth = np.full((HEIGHT, WIDTH), 8.0, np.float32)
    mask = np.zeros((HEIGHT, WIDTH), np.int32)
    image = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    instances = []
    order = sorted(range(len(objects)), key=lambda i: -objects[i][2][2])
    for index in order:
        color, category, (x, y, z), size = objects[index]
        u, v = FX * x / z + WIDTH / 2, FY * y / z + HEIGHT / 2
        half_u, half_v = FX * size[0] / 2 / z, FY * size[1] / 2 / z
        rows = slice(max(0, int(v - half_v)), int(v + half_v) + 1)
        cols = slice(max(0, int(u - half_u)), int(u + half_u) + 1)
        depth[rows, cols], mask[rows, cols], image[rows, cols] = z, index + 1, 40 * (index + 1)
    for index, (color, category, center, size) in enumerate(objects):
        instances.append({"instance_id": index + 1, "category": category, "color": color, "center_m": list(center),
                          "size_m": list(size), "yaw_rad": 0.0, "pixel_count": int((mask == index + 1).sum())})
    return {"image": image, "depth": depth, "intrinsics": [FX, FY, WIDTH / 2, HEIGHT / 2], "source": "test",
            "instances": instances, "instance_mask": mask, "camera_to_world": LEVEL_CAMERA_TO_WORLD,
            "scene_id": scene_id, "camera_model_id": -1}
