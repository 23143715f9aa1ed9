"""report.md and a self-contained report.html from what the stages left in the run folder.

Both come from one list of blocks (headings, text, tables, pictures, code), so they say the same
thing; the HTML embeds every picture as a base64 data URI and needs no other file. Every number is
read from a stage's output; a stage that did not run says so and why.
"""

from __future__ import annotations

import base64
import html
import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from ma_vlm.atomic_io import write_text_atomic
from ma_vlm.demo import report_sections

# The sections every report has, in order (tests check them).
SECTIONS = (
    "What this run is",
    "1. Data",
    "2. Depth pretraining",
    "3. Depth on held-out cameras",
    "4. Depth maps, error maps and a point cloud",
    "5. Camera intrinsics from the point map",
    "6. Spatial QA: the depth tower vs a no-depth tower",
    "7. VLA on MetaWorld",
    "Reproduce at full scale on a GPU",
)


@dataclass
class Block:
    kind: str          # heading | text | table | image | code
    content: object


class Report:
    """Blocks in order; `markdown()` and `html()` render them."""

    def __init__(self, run_dir: Path):
        self.run_dir = run_dir
        self.blocks: list[Block] = []

    def heading(self, text: str, level: int = 2) -> None:
        self.blocks.append(Block("heading", (level, text)))

    def text(self, text: str) -> None:
        self.blocks.append(Block("text", text))

    def table(self, headers: list[str], rows: list[list]) -> None:
        self.blocks.append(Block("table", (headers, rows)))

    def image(self, path: Path | None, caption: str) -> None:
        if path is not None and Path(path).is_file():
            self.blocks.append(Block("image", (Path(path), caption)))

    def code(self, text: str) -> None:
        self.blocks.append(Block("code", text))

    def markdown(self) -> str:
        out = []
        for block in self.blocks:
            if block.kind == "heading":
                level, text = block.content
                out.append(f"{'#' * level} {text}")
            elif block.kind == "text":
                out.append(block.content)
            elif block.kind == "table":
                headers, rows = block.content
                out.append("\n".join([_md_row(headers), _md_row(["---"] * len(headers)),
                                      *(_md_row(row) for row in rows)]))
            elif block.kind == "image":
                path, caption = block.content
                out.append(f"![{caption}]({path.relative_to(self.run_dir) if path.is_relative_to(self.run_dir) else path})"
                           f"\n\n*{caption}*")
            elif block.kind == "code":
                out.append(f"```bash\n{block.content}\n```")
        return "\n\n".join(out) + "\n"

    def html(self) -> str:
        body = []
        for block in self.blocks:
            if block.kind == "heading":
                level, text = block.content
                body.append(f"<h{level}>{_inline(text)}</h{level}>")
            elif block.kind == "text":
                body.extend(f"<p>{_inline(paragraph)}</p>" for paragraph in block.content.split("\n\n"))
            elif block.kind == "table":
                headers, rows = block.content
                head = "".join(f"<th>{_inline(str(h))}</th>" for h in headers)
                cells = "".join("<tr>" + "".join(f"<td>{_inline(_cell(c))}</td>" for c in row) + "</tr>" for row in rows)
                body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{cells}</tbody></table>")
            elif block.kind == "image":
                path, caption = block.content
                mime = "image/gif" if path.suffix == ".gif" else "image/png"
                data = base64.b64encode(path.read_bytes()).decode("ascii")
                body.append(f'<figure><img src="data:{mime};base64,{data}" alt="{html.escape(caption)}">'
                            f"<figcaption>{_inline(caption)}</figcaption></figure>")
            elif block.kind == "code":
                body.append(f"<pre><code>{html.escape(block.content)}</code></pre>")
        return HTML_PAGE.format(body="\n".join(body))


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 100 else f"{value:.1f}"
    return str(value)


def _md_row(cells) -> str:
    return "| " + " | ".join(_cell(c).replace("|", "\\|") for c in cells) + " |"


def _inline(text: str) -> str:
    """The little Markdown the report uses (`code`, **bold**), as HTML."""
    escaped = html.escape(text)
    escaped = re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", escaped)


HTML_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>ma-vlm demo report</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }}
table {{ border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }}
th, td {{ border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }}
th {{ background: #f2f2f2; }}
img {{ max-width: 100%; }}
figure {{ margin: 1em 0; }} figcaption {{ font-size: 0.85em; color: #555; }}
pre {{ background: #f6f6f6; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }}
code {{ background: #f6f6f6; padding: 0 0.2em; }}
</style></head><body>
{body}
</body></html>
"""


def write_report(run_dir: Path, budget: dict, stages) -> tuple[Path, Path]:
    """Build the report from RUN's stage outputs and markers; write report.md and report.html."""
    run_dir = Path(run_dir)
    report = Report(run_dir)
    report.heading("ma-vlm demo report", level=1)
    report.text(f"Run folder `{run_dir}`, budget **{budget['name']}** (`{budget['path']}`), written "
                f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC.")
    sections = [report_sections.overview, report_sections.data, report_sections.pretraining,
                report_sections.depth_eval, report_sections.depth_maps, report_sections.intrinsics,
                report_sections.spatial_mllm, report_sections.vla, report_sections.reproduce]
    for title, section in zip(SECTIONS, sections):
        report.heading(title)
        section(report, run_dir, budget, stages)
    md_path, html_path = run_dir / "report.md", run_dir / "report.html"
    write_text_atomic(md_path, report.markdown())
    write_text_atomic(html_path, report.html())
    print(f"wrote {md_path} and {html_path} ({html_path.stat().st_size / 1e6:.1f} MB, self-contained)")
    return md_path, html_path


def read_json(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None
