"""Every repository path the documentation names exists, and README.md stays short.

Checked in README.md and docs/**/*.md:
- markdown link and image targets (`[text](target)`), resolved relative to the file that holds them;
- paths in backticks, inline or fenced: a word that starts with a top-level folder and a slash
  (`ma_vlm/depth/cli.py`, `recipes/demo/`, `eval/`; not the command word `eval`) or is a
  top-level file (`Makefile`), resolved from the repository root. Placeholders (`<tower>`, `*.yaml`, `RGBD_DIR`, `{a,b}`) and run outputs (`outputs/`, `runs/`,
  `data/`, `/tmp/...`) are not repository paths and are skipped; a trailing `:line` or `#anchor` is
  dropped.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TOP_LEVEL_FOLDERS = {"ma_vlm", "recipes", "docs", "eval", "examples", "perf", "scripts", "experiments", "plugins", "tests",
                     ".ci"}
TOP_LEVEL_FILES = {"Makefile", "pyproject.toml", "README.md"}
README_MAX_LINES = 300

FENCED_BLOCK = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)
INLINE_CODE = re.compile(r"`([^`\n]+)`")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
WORD_SEPARATORS = re.compile(r"[\s=(),\"'\[\]|]+")
PLACEHOLDER = re.compile(r"[<>*{}$]|\.\.\.")


def documentation_files() -> list[Path]:
    return [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]


def _clean(word: str) -> str:
    word = word.split("#", 1)[0]
    word = re.sub(r":\d+(-\d+)?$", "", word)  # file.py:12
    return word.rstrip(".,;:")


def _is_placeholder(word: str) -> bool:
    if PLACEHOLDER.search(word):
        return True
    # an upper-case name without extension stands for the user's own path (RGBD_DIR, CHECKOUT, R);
    # README.md and ATTRIBUTION.md are real files
    return any(part.isupper() and "." not in part for part in word.split("/"))


def repository_paths(text: str) -> list[str]:
    """The words in backticks of a markdown text that name repository paths, in order."""
    code = [m.group(1) for m in FENCED_BLOCK.finditer(text)]
    code += INLINE_CODE.findall(FENCED_BLOCK.sub("", text))
    paths = []
    for span in code:
        for word in WORD_SEPARATORS.split(span):
            word = _clean(word)
            # `ma-vlm eval` is a command, `eval/` a folder: a folder needs its slash
            is_path = word.split("/", 1)[0] in TOP_LEVEL_FOLDERS and "/" in word
            if not (is_path or word in TOP_LEVEL_FILES) or _is_placeholder(word):
                continue
            paths.append(word)
    return paths


def link_targets(text: str) -> list[str]:
    """Markdown link and image targets that point into the repository (not URLs, not same-page anchors)."""
    targets = []
    for target in LINK.findall(FENCED_BLOCK.sub("", text)):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        targets.append(target.split("#", 1)[0])
    return targets


def missing_paths(markdown: Path) -> list[str]:
    """`file: path` for every path `markdown` names that does not exist."""
    text = markdown.read_text(encoding="utf-8")
    name = markdown.relative_to(REPO)
    missing = [f"{name}: `{p}`" for p in repository_paths(text) if not (REPO / p).exists()]
    missing += [f"{name}: ({t})" for t in link_targets(text) if not (markdown.parent / t).exists()]
    return missing


def test_the_checker_finds_paths_and_skips_placeholders():
    text = (
        "Run `ma-vlm pretrain --recipe recipes/pretrain_teacher_tiny.yaml --output runs/teacher` "
        "or see [the guide](docs/architecture.md#folders).\n"
        "```bash\nma-vlm eval pointmap --data RGBD_DIR --tower_path=<tower> --output outputs/x.json\n"
        "bash scripts/no_such_script.sh   # recipes/*.yaml\n```\n"
        "`ma_vlm/cli.py:40`, `Makefile`, `/tmp/demo`, `examples/ATTRIBUTION.md`, `eval/RUN/x`, "
        "[a site](https://example.org)\n"
    )
    assert repository_paths(text) == ["scripts/no_such_script.sh", "recipes/pretrain_teacher_tiny.yaml",
                                      "ma_vlm/cli.py", "Makefile", "examples/ATTRIBUTION.md"]
    assert link_targets(text) == ["docs/architecture.md"]


def test_every_path_the_documentation_names_exists():
    missing = [line for markdown in documentation_files() for line in missing_paths(markdown)]
    assert not missing, "paths named in the documentation that do not exist:\n" + "\n".join(missing)


def test_readme_is_short():
    lines = len((REPO / "README.md").read_text(encoding="utf-8").splitlines())
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; studies belong in docs/results/"
