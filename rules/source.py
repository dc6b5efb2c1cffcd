"""Reading rulebook YAML with the line of every node, so problems can name file and line."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tierwise.errors import Problem
from tierwise.yaml_lines import NodePath, load_yaml_lines

__all__ = ["CASE_FILES", "NodePath", "Source", "read_source", "rulebook_files"]
CASE_FILES = ("tests.yaml", "tests.yml")


@dataclass
class Source:
    """The merged YAML documents of a rulebook and where each node came from."""

    data: dict[str, Any] = field(default_factory=dict)
    lines: dict[NodePath, tuple[str, int]] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def where(self, path: NodePath) -> tuple[str | None, int | None]:
        """File and line of the deepest known node on ``path``."""
        for end in range(len(path), 0, -1):
            hit = self.lines.get(path[:end])
            if hit:
                return hit
        return (str(self.files[0]), None) if self.files else (None, None)

    def problem(
        self, path: NodePath, message: str, *, rule_id: str | None = None, value: Any = None
    ) -> Problem:
        file, line = self.where(path)
        return Problem(message, file=file, line=line, rule_id=rule_id, value=value)


def rulebook_files(path: Path) -> list[Path]:
    """The YAML files of a rulebook: a single file, or every *.yaml of a directory but tests."""
    if path.is_file():
        return [path]
    files = sorted([*path.glob("*.yaml"), *path.glob("*.yml")])
    return [f for f in files if f.name not in CASE_FILES]


def read_source(path: Path) -> Source:
    src = Source()
    if not path.exists():
        src.problems.append(Problem(f"no rulebook at {path}", file=str(path)))
        return src
    src.files = rulebook_files(path)
    if not src.files:
        src.problems.append(Problem("no *.yaml rulebook files in this directory", file=str(path)))
    for file in src.files:
        _read_file(file, src)
    return src


def _read_file(file: Path, src: Source) -> None:
    data, lines = load_yaml_lines(file, src.problems)
    if data is None:  # unreadable, empty or not YAML: the problem is recorded
        with contextlib.suppress(OSError, UnicodeDecodeError):
            src.texts[str(file)] = file.read_text(encoding="utf-8")
        return
    src.texts[str(file)] = file.read_text(encoding="utf-8")
    if not isinstance(data, dict):
        src.problems.append(
            Problem(
                "a rulebook file must be a mapping of sections "
                "(version, tracks, incentives, scorecard, actions, settings)",
                file=str(file),
                line=1,
                value=type(data).__name__,
            )
        )
        return
    for key, value in data.items():
        if key in src.data:
            first, first_line = src.lines[(key,)]
            src.problems.append(
                Problem(
                    f"section '{key}' is also defined in {first}:{first_line}",
                    file=str(file),
                    line=lines.get((key,)),
                    value=key,
                )
            )
            continue
        src.data[key] = value
    for node_path, line in lines.items():
        src.lines.setdefault(node_path, (str(file), line))
