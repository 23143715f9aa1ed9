"""The page in headless Chromium (Debian's /usr/bin/chromium driven by Playwright): upload a
photo and its camera, press Run, see the depth map and the 3D view, download the .npy and find
it equal to `ma-vlm depth`'s; a non-image is one line in the page and the next request works;
the page fetches nothing from any other host. MA_VLM_APP_SCREENSHOTS=DIR keeps a screenshot of
each tab there (README's come from it)."""

import os
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ma_vlm.cli import main

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.is_file():
    pytest.skip("no /usr/bin/chromium: `make setup` installs Debian's chromium (as root, or: sudo apt-get install "
                "chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="needs playwright (the [dev] extra)")

# What the closed network needs: no GPU, no QUIC, and none of Chromium's background connections.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 120_000


@pytest.fixture(scope="module")
def browser_page(served_page, tmp_path_factory):
    """(a fresh Chromium page at the app, the list of every URL it requested, the app's URL)."""
    url, _ = served_page
    requested = []
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=str(CHROMIUM), headless=True,
            args=CHROMIUM_ARGS, accept_downloads=True, viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.on("request", lambda request: requested.append(request.url))
        page.goto(url)
        page.locator("#photo").wait_for()
        yield page, requested, url
        context.close()


def screenshot(page, name: str, tmp_path: Path) -> Path:
    folder = Path(os.environ.get("MA_VLM_APP_SCREENSHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"app_{name}.png"
    page.screenshot(path=str(path), full_page=True)
    Image.open(path).convert("RGB").quantize(64).save(path, optimize=True)  # small enough to commit
    return path


def upload(page, element_id: str, path: Path) -> None:
    """Put `path` into the file input `element_id`, clearing the file it holds first."""
    block = page.locator(f"#{element_id}")
    if block.locator("input[type=file]").count() == 0:
        block.get_by_role("button", name="Clear").first.click()
    block.locator("input[type=file]").set_input_files(str(path))
    block.get_by_text(path.name).first.wait_for()


def test_depth_in_the_browser_equals_the_cli(browser_page, photo, app_model_folders, tmp_path, record_property):
    page, requested, url = browser_page
    start = time.perf_counter()
    upload(page, "photo", photo)
    upload(page, "camera-file", photo.with_suffix(".json"))
    page.locator("#run-depth").click()
    page.locator("#depth-map img").wait_for(state="visible")
    to_depth = time.perf_counter() - start
    page.locator("#depth-3d canvas").wait_for(state="visible")
    to_view = time.perf_counter() - start
    record_property("upload_to_depth_s", round(to_depth, 2))
    record_property("upload_to_3d_view_s", round(to_view, 2))
    print(f"upload to depth map {to_depth:.2f} s, to 3D view {to_view:.2f} s")
    assert "camera file photo.json" in page.locator("#depth-camera").inner_text()
    with page.expect_download() as download:
        page.locator('#depth-downloads a[download="photo.npy"]').click()
    browser_npy = tmp_path / "from_browser.npy"
    download.value.save_as(browser_npy)
    assert main(["depth", str(photo), "--model", str(app_model_folders["depth"]), "--output", str(tmp_path / "cli")]) == 0
    np.testing.assert_array_equal(np.load(browser_npy), np.load(tmp_path / "cli" / "photo.npy"))
    foreign = [address for address in requested if not address.startswith((url, "data:", "blob:"))]
    assert foreign == [], f"the page fetched from elsewhere: {foreign[:5]}"


def test_a_non_image_is_one_line_in_the_page_then_a_photo_works(browser_page, photo, tmp_path):
    page, _, _ = browser_page
    notes = tmp_path / "notes.png"
    notes.write_text("these are my notes, not a picture")
    upload(page, "photo", notes)
    page.locator("#run-depth").click()
    message = page.get_by_text("notes.png is not a readable image").first
    message.wait_for(state="visible")
    assert "Traceback" not in page.content()
    upload(page, "photo", photo)
    upload(page, "camera-file", photo.with_suffix(".json"))  # this test must not rely on another one's upload
    page.locator("#run-depth").click()
    page.get_by_text("camera file photo.json").first.wait_for(state="visible")


def test_every_tab_in_the_browser(browser_page, tmp_path):
    """An example photo of examples/ with its camera through the four tabs (README's screenshots)."""
    from ma_vlm.resources import shipped_path

    page, _, _ = browser_page
    page.reload()  # a fresh page: no message left from an earlier test
    page.locator("#photo").wait_for()
    example = Path(shipped_path("examples/nyuv2_0.png"))
    upload(page, "photo", example)
    upload(page, "camera-file", example.with_suffix(".json"))
    page.get_by_role("tab", name="Depth").click()
    start = time.perf_counter()
    page.locator("#run-depth").click()
    page.get_by_text("camera file nyuv2_0.json").first.wait_for(state="visible")
    to_depth = time.perf_counter() - start
    page.locator("#depth-3d canvas").wait_for(state="visible")
    print(f"{example.name}: Run to depth map {to_depth:.2f} s, to 3D view {time.perf_counter() - start:.2f} s")
    screenshot(page, "depth", tmp_path)

    page.get_by_role("tab", name="Camera").click()
    page.locator("#run-intrinsics").click()
    page.get_by_text("errors against the camera file").first.wait_for(state="visible")
    page.locator("#intrinsics-3d canvas").wait_for(state="visible")
    screenshot(page, "camera", tmp_path)

    page.get_by_role("tab", name="Completion").click()
    height, width = np.asarray(Image.open(example)).shape[:2]
    truth = np.linspace(1.0, 4.0, height * width, dtype=np.float32).reshape(height, width)
    np.save(tmp_path / "nyuv2_0_depth.npy", truth)
    upload(page, "truth", tmp_path / "nyuv2_0_depth.npy")
    page.locator("#run-complete").click()
    page.locator("#complete-teacher img").wait_for(state="visible")
    page.locator("#complete-linear img").wait_for(state="visible")
    assert "uniform:0.001 sampled from the depth map" in page.locator("#complete-line").inner_text()
    screenshot(page, "completion", tmp_path)

    page.get_by_role("tab", name="Spatial chat").click()
    page.locator("#run-chat").click()
    page.get_by_text("Camera given to the model").first.wait_for(state="visible")
    screenshot(page, "chat", tmp_path)
