"""Reading rulebook YAML with the line of every node, so problems can name file and line."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tierwise.errors import Problem

NodePath = tuple[str | int, ...]
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


def load_yaml(file: Path, problems: list[Problem]) -> tuple[Any, dict[NodePath, int]]:
    """One YAML document and the 1-based line of each node; syntax errors become problems."""
    text = file.read_text(encoding="utf-8")
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        context = exc.context or ""
        if context and exc.context_mark and exc.context_mark is not mark:
            context += f" (line {exc.context_mark.line + 1})"
        what = " ".join(str(p) for p in (context, exc.problem) if p)
        problems.append(Problem(f"YAML syntax error: {what}", file=str(file), line=line))
        return None, {}
    except yaml.YAMLError as exc:  # pragma: no cover - non-marked errors are rare
        problems.append(Problem(f"YAML error: {exc}", file=str(file)))
        return None, {}
    finally:
        loader.dispose()
    lines: dict[NodePath, int] = {}
    _walk(node, (), lines, file, problems)
    return data, lines


def _read_file(file: Path, src: Source) -> None:
    data, lines = load_yaml(file, src.problems)
    src.texts[str(file)] = file.read_text(encoding="utf-8")
    if data is None:
        return
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


def _walk(
    node: yaml.Node, path: NodePath, lines: dict[NodePath, int], file: Path, problems: list[Problem]
) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                problems.append(
                    Problem(
                        f"duplicate key '{key}'",
                        file=str(file),
                        line=key_node.start_mark.line + 1,
                        value=key,
                    )
                )
            seen.add(key)
            _walk(value_node, (*path, key), lines, file, problems)
            lines[(*path, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, (*path, i), lines, file, problems)
