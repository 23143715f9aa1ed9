"""README's four gradio_client calls, run as written against the page (only the URL differs)."""

import re
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_api_calls_work_as_written(served_page, monkeypatch, capsys):
    url, _ = served_page
    section = README.read_text().split("### Try it in the browser", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert 'Client("http://127.0.0.1:7860/")' in code
    monkeypatch.chdir(README.parent)
    names = {}
    exec(code.replace("http://127.0.0.1:7860/", url), names)
    assert np.load(names["downloads"][0]).shape == (480, 640)
    assert "lidar:64 sampled from the depth map" in names["line"]
    assert "camera file nyuv2_0.json" in names["camera_line"]
    assert capsys.readouterr().out.count("\n") >= 2  # the answer printed as it grew
