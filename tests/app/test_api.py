"""The four api_names through gradio_client, as README shows them: depth (equal to `ma-vlm
depth`), intrinsics, complete and chat (streamed); bad inputs are one line and the server goes on."""

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ma_vlm.cli import main

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402


@pytest.fixture(scope="module")
def client(served_page):
    url, _ = served_page
    return Client(url, verbose=False)


def cli_depth(photo: Path, model: Path, output: Path) -> np.ndarray:
    assert main(["depth", str(photo), "--model", str(model), "--output", str(output)]) == 0
    return np.load(output / f"{photo.stem}.npy")


def test_depth_equals_the_cli_and_writes_every_download(client, photo, app_model_folders, tmp_path):
    colour_map, table, downloads, glb, camera_line = client.predict(
        handle_file(str(photo)), handle_file(str(photo.with_suffix(".json"))), None, api_name="/depth")
    files = {Path(item).name: Path(item) for item in downloads}
    assert set(files) == {"photo.npy", "photo.ply", "photo_camera.json"}
    depth_m = np.load(files["photo.npy"])
    np.testing.assert_array_equal(depth_m, cli_depth(photo, app_model_folders["depth"], tmp_path / "cli"))
    assert json.loads(files["photo_camera.json"].read_text())["cam_in"] == [60.0, 60.0, 32.0, 24.0]
    assert "camera file photo.json" in camera_line
    assert Image.open(colour_map).size[0] > 0 and Path(glb).read_bytes()[:4] == b"glTF"
    rows = dict(table["data"])
    assert float(rows["median (m)"]) == pytest.approx(float(np.median(depth_m)), abs=1e-3)


def test_typed_focal_length_is_used_and_said(client, photo):
    *_, camera_line = client.predict(handle_file(str(photo)), None, 120.0, api_name="/depth")
    assert "typed focal length 120 px" in camera_line


def test_without_a_camera_the_point_map_model_estimates_it(client, photo, served_page):
    *_, camera_line = client.predict(handle_file(str(photo)), None, None, api_name="/depth")
    estimate = served_page[1].models["pointmap"].loaded(np.asarray(Image.open(photo).convert("RGB"))).intrinsics
    assert f"the point-map model's estimate (fx {estimate[0]:.1f} px)" in camera_line


def test_intrinsics_against_the_camera_file(client, photo):
    table, glb, camera_json, line = client.predict(handle_file(str(photo)), handle_file(str(photo.with_suffix(".json"))),
                                                   api_name="/intrinsics")
    rows = {row[0]: row for row in table["data"]}
    estimated = json.loads(Path(camera_json).read_text())["cam_in"]
    assert rows["fx (px)"][1] == f"{estimated[0]:.1f}" and rows["fx (px)"][2] == "60.0"
    assert rows["fx (px)"][3] == f"{100 * (estimated[0] - 60) / 60:+.1f} %"
    assert Path(glb).read_bytes()[:4] == b"glTF" and "errors against the camera file" in line


def test_complete_scores_teacher_and_interpolation(client, photo, tmp_path):
    truth = np.linspace(1.0, 3.0, 64 * 48, dtype=np.float32).reshape(48, 64)
    np.save(tmp_path / "truth.npy", truth)
    teacher_png, linear_png, table, downloads, line = client.predict(
        handle_file(str(photo)), handle_file(str(photo.with_suffix(".json"))), None, None,
        handle_file(str(tmp_path / "truth.npy")), "grid:16", 0, api_name="/complete")
    files = {Path(item).name: Path(item) for item in downloads}
    linear = np.load(files["photo_linear.npy"])
    prompt = np.load(files["photo_prompt.npy"])
    assert np.count_nonzero(prompt) == 12 and "grid:16 sampled from the depth map" in line  # 4 x 3 blocks of 16 px
    rows = {row[0]: row for row in table["data"]}
    expected = np.mean(np.abs(linear - truth) / truth)
    assert float(rows["Delaunay-linear interpolation"][1]) == pytest.approx(expected, abs=1e-4)
    assert float(rows["teacher"][1]) >= 0


def test_complete_from_an_uploaded_png_prompt_in_millimetres(client, photo, tmp_path):
    prompt_mm = np.zeros((48, 64), np.uint16)
    prompt_mm[::8, ::8] = 2000
    Image.fromarray(prompt_mm).save(tmp_path / "sparse.png")
    *_, downloads, line = client.predict(handle_file(str(photo)), handle_file(str(photo.with_suffix(".json"))), None,
                                         handle_file(str(tmp_path / "sparse.png")), None, "grid:16", 0,
                                         api_name="/complete")
    linear = np.load(next(Path(item) for item in downloads if item.endswith("_linear.npy")))
    np.testing.assert_allclose(linear, 2.0, rtol=1e-6)  # a flat 2 m prompt interpolates to 2 m everywhere
    assert "uploaded sparse depth: 48 points" in line


def test_chat_streams_the_answer_chat_gives(client, photo, served_page):
    from ma_vlm.mllm.chat import answer, chat_inputs

    question = "How far is the centre of the chair from the camera (in meters)?"
    job = client.submit(handle_file(str(photo)), handle_file(str(photo.with_suffix(".json"))), None, question, 8,
                        api_name="/chat")
    final, camera_line = job.result()
    partial = [output[0] for output in job.outputs()]
    model, processor = served_page[1].models["mllm"].loaded
    image = Image.open(photo).convert("RGB")
    whole = answer(model, processor, chat_inputs(processor, [image], question, [[60.0, 60.0, 32.0, 24.0]]), 8)
    assert final == whole and "camera file photo.json" in camera_line
    assert len(partial) >= 3 and partial[0] == ""  # streamed: empty first, then growing pieces


BAD_INPUTS = [
    ("not an image", lambda d: _write(d / "notes.png", b"these are notes"), {}, "notes.png is not a readable image"),
    ("1 x 1 image", lambda d: _image(d / "dot.png", 1, 1), {}, "dot.png is 1 x 1 px"),
    ("over the megapixel limit", lambda d: _image(d / "big.png", 1200, 900), {}, "above the 1 MP limit"),
    ("focal length 0", lambda d: _image(d / "ok.png", 64, 48), {"focal": 0.0}, "focal length 0 px"),
    ("negative focal length", lambda d: _image(d / "ok.png", 64, 48), {"focal": -5.0}, "focal length -5 px"),
]


def _write(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


def _image(path: Path, width: int, height: int) -> Path:
    Image.fromarray(np.full((height, width, 3), 128, np.uint8)).save(path)
    return path


@pytest.mark.parametrize("name, make, extra, message", BAD_INPUTS, ids=[case[0] for case in BAD_INPUTS])
def test_bad_photo_or_camera_is_one_line_and_the_page_goes_on(client, served_page, photo, tmp_path, name, make, extra,
                                                             message):
    state = served_page[1]
    limit, state.max_megapixels = state.max_megapixels, 1.0
    try:
        with pytest.raises(AppError) as caught:
            client.predict(handle_file(str(make(tmp_path))), None, extra.get("focal"), api_name="/depth")
    finally:
        state.max_megapixels = limit
    assert message in str(caught.value) and "Traceback" not in str(caught.value)
    *_, camera_line = client.predict(handle_file(str(photo)), handle_file(str(photo.with_suffix(".json"))), None,
                                     api_name="/depth")
    assert "camera file" in camera_line


@pytest.mark.parametrize("name, prompt, message", [
    ("wrong size", np.ones((10, 10), np.float32), "is (10, 10) (W, H) but its image is (64, 48)"),
    ("NaN", np.full((48, 64), np.nan, np.float32), "holds NaN, inf or negative depths"),
])
def test_bad_prompt_is_one_line(client, photo, tmp_path, name, prompt, message):
    np.save(tmp_path / "sparse.npy", prompt)
    with pytest.raises(AppError, match="sparse depth: ") as caught:
        client.predict(handle_file(str(photo)), handle_file(str(photo.with_suffix(".json"))), None,
                       handle_file(str(tmp_path / "sparse.npy")), None, "grid:16", 0, api_name="/complete")
    assert message in str(caught.value)


def test_two_users_at_once_get_their_own_results(client, photo, tmp_path):
    other = _image(tmp_path / "photo.png", 80, 40)  # same name, another photo
    requests = [(photo, 60.0), (other, 60.0)]
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda r: client.predict(handle_file(str(r[0])), None, r[1], api_name="/depth"), requests))
    shapes = [np.load(next(p for p in result[2] if p.endswith(".npy"))).shape for result in results]
    assert shapes == [(48, 64), (40, 80)]
    assert photo.read_bytes() and other.exists()  # the uploads were copied, never moved or overwritten
