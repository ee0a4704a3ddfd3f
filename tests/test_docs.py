"""Every ```python block of README.md and docs/*.md runs as written, each in a fresh interpreter.

A block that takes long carries the comment ``# doc-test: slow`` and runs only under ``-m slow``.
Blocks not meant to run are fenced as something else (bash, yaml, text).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import BASELINES_STACK_MISSING, BASELINES_STACK_INSTALLED

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SLOW_MARKER = "# doc-test: slow"
MAX_SLOW_BLOCKS = 3  # a few long examples at most: the rest must stay cheap enough to run by default
TIMEOUT_S = 600
_FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>[^`\s]*)\s*$")


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # 1-based line of the block's first code line
    code: str

    @property
    def slow(self) -> bool:
        return SLOW_MARKER in self.code

    @property
    def uses_baselines(self) -> bool:
        return re.search(r"^\s*(from|import) baselines\b", self.code, re.MULTILINE) is not None

    @property
    def name(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def python_blocks(path: Path) -> list[Block]:
    """The ```python blocks of a markdown file (indented fences too, their indent removed)."""
    blocks: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        indent, start = len(opening["indent"]), i + 1
        end = start
        while end < len(lines) and not (_FENCE.match(lines[end]) and _FENCE.match(lines[end])["lang"] == ""):
            end += 1
        if end == len(lines):
            raise ValueError(f"{path}:{i + 1}: code fence never closed")
        if opening["lang"] == "python":
            code = "\n".join(line[indent:] for line in lines[start:end]) + "\n"
            blocks.append(Block(path, start + 1, code))
        i = end + 1
    return blocks


def run_block(block: Block, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run one block as a script in ``cwd``, with the repository first on the inherited PYTHONPATH."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    env.setdefault("MPLBACKEND", "Agg")
    return subprocess.run(
        [sys.executable, "-c", block.code], cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT_S,
    )


def failure_message(block: Block, result: subprocess.CompletedProcess[str]) -> str:
    errors = result.stderr.strip().splitlines()
    return f"{block.name}: the python block exits {result.returncode}: {errors[-1] if errors else '(no stderr)'}\n" \
           f"{result.stderr[-3000:]}"


BLOCKS = [block for path in DOCS for block in python_blocks(path)]


@pytest.mark.parametrize(
    "block",
    [pytest.param(b, id=b.name, marks=[
        *([pytest.mark.slow] if b.slow else []),
        # the gymnasium 1.x job (`make test-gym1`) has no imitation: blocks using baselines cannot run there
        pytest.mark.skipif(b.uses_baselines and not BASELINES_STACK_INSTALLED, reason=BASELINES_STACK_MISSING),
    ]) for b in BLOCKS],
)
def test_the_python_block_runs_as_written(block: Block, tmp_path: Path) -> None:
    result = run_block(block, tmp_path)
    assert result.returncode == 0, failure_message(block, result)


def test_the_docs_have_python_blocks_and_few_slow_ones() -> None:
    files = {b.path.name for b in BLOCKS}
    assert {"README.md", "learners.md", "environments.md"} <= files, files
    slow = [b.name for b in BLOCKS if b.slow]
    assert len(slow) <= MAX_SLOW_BLOCKS, slow


def test_a_failing_block_is_reported_with_its_file_line_and_error(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("Intro.\n\n```bash\nexit 1\n```\n\n  ```python\n  x = 1\n  print(y)\n  ```\n")
    (block,) = python_blocks(page)  # the bash block is not collected; the indented python one is
    assert (block.line, block.code) == (8, "x = 1\nprint(y)\n")
    result = run_block(block, tmp_path)
    message = failure_message(Block(ROOT / "docs" / "page.md", block.line, block.code), result)
    assert result.returncode == 1
    assert message.startswith("docs/page.md:8: the python block exits 1: NameError: name 'y' is not defined")


def test_an_unclosed_fence_is_refused(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("```python\nprint(1)\n")
    with pytest.raises(ValueError, match=r"page.md:1: code fence never closed"):
        python_blocks(page)
