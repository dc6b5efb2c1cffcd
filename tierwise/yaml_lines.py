"""YAML with the line of every node, so that problems can say file:line.

The one reader of the YAML the project's users write: rulebooks (`rules.source`), their test
cases (`rules.testcases`) and import mappings (`features.mappings`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tierwise.errors import Problem

NodePath = tuple[str | int, ...]


def load_yaml_lines(file: Path, problems: list[Problem]) -> tuple[Any, dict[NodePath, int]]:
    """One YAML document and the 1-based line of each node; syntax errors become problems."""
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(Problem(f"cannot read: {exc}", file=str(file)))
        return None, {}
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


def _walk(
    node: yaml.Node, path: NodePath, lines: dict[NodePath, int], file: Path, problems: list[Problem]
) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                line = key_node.start_mark.line + 1
                problems.append(
                    Problem(f"duplicate key '{key}'", file=str(file), line=line, value=key)
                )
            seen.add(key)
            _walk(value_node, (*path, key), lines, file, problems)
            lines[(*path, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, (*path, i), lines, file, problems)


def line_of(lines: dict[NodePath, int], path: NodePath) -> int | None:
    """Line of the deepest known node on `path`."""
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return None
