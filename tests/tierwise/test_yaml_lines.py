from pathlib import Path

from tierwise.errors import Problem
from tierwise.yaml_lines import line_of, load_yaml_lines


def load(tmp_path: Path, text: bytes) -> tuple[object, dict, list[Problem]]:
    file = tmp_path / "book.yaml"
    file.write_bytes(text)
    problems: list[Problem] = []
    data, lines = load_yaml_lines(file, problems)
    return data, lines, problems


def test_every_node_has_its_line(tmp_path: Path) -> None:
    data, lines, problems = load(tmp_path, b"a:\n  b: 1\n  c:\n    - x\n    - y\n")
    assert data == {"a": {"b": 1, "c": ["x", "y"]}} and problems == []
    assert lines[("a", "b")] == 2 and lines[("a", "c", 1)] == 5
    assert line_of(lines, ("a", "c", 1, "deeper")) == 5


def test_a_duplicate_key_names_its_line_and_the_key(tmp_path: Path) -> None:
    _, _, problems = load(tmp_path, b"a: 1\nb: 2\na: 3\n")
    assert [(p.message, p.line, p.value) for p in problems] == [("duplicate key 'a'", 3, "a")]


def test_a_syntax_error_names_the_line_and_the_context(tmp_path: Path) -> None:
    data, _, problems = load(tmp_path, b"a: [1, 2\nb: 3\n")
    assert data is None and len(problems) == 1
    assert problems[0].message.startswith("YAML syntax error: while parsing a flow sequence")
    assert "(line 1)" in problems[0].message and problems[0].line == 2


def test_a_file_that_is_not_utf8_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    data, lines, problems = load(tmp_path, b"a: \xff\xfe\n")
    assert data is None and lines == {}
    assert problems[0].message.startswith("cannot read") and problems[0].file.endswith("book.yaml")
