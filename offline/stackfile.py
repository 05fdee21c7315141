"""Reading ``Pulumi.<stack>.yaml`` for the offline plan and the tests, refusing what the Pulumi CLI refuses.

The CLI reads a stack file with Go's ``gopkg.in/yaml.v3``, which rejects a mapping
that gives a key twice; PyYAML would keep the last value silently (a second
``dossier:tenants:`` block would drop the first one's groups). So every mapping,
at any depth, is checked for repeated keys, and all of them are reported at once,
each naming the key and both lines. A syntax error is reported with the file,
line and column and what the parser found, never as a traceback.
``StackFileError`` is what ``make plan`` turns into exit status 2.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

#: libyaml when PyYAML has it (safe loading either way; the pure-Python parser is ~3x slower).
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MERGE = "tag:yaml.org,2002:merge"


class StackFileError(ValueError):
    """A stack file that cannot be read as the CLI would; ``problems`` lists each, ``key: what`` where a key is."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{_shown(path)}: cannot be read ({len(problems)} problem(s)):\n{lines}")


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def stack_file(stack: str, root: Path) -> Path:
    return root / f"Pulumi.{stack}.yaml"


def _key_path(parent: str, key: str) -> str:
    # Keys under `config:` are named as the docs and the config errors name them (dossier:keycloak.url).
    if parent == "config":
        return key
    return f"{parent}.{key}" if parent else key


def repeated_keys(node: yaml.Node, path: str = "") -> Iterator[str]:
    """One problem per key a mapping of ``node`` (at any depth) gives more than once."""
    if isinstance(node, yaml.MappingNode):
        first: dict[tuple[str, str], int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _MERGE:
                continue  # a merge key (<<) may be overridden on purpose
            where = _key_path(path, key_node.value)
            line = key_node.start_mark.line + 1
            seen = first.setdefault((key_node.tag, key_node.value), line)
            if seen != line:
                fix = "keep one" if isinstance(value_node, yaml.ScalarNode) else "merge the two into one"
                yield (f"{where}: given twice, on lines {seen} and {line}; YAML would keep only the second "
                       f"and the Pulumi CLI refuses the file: {fix}")
            yield from repeated_keys(value_node, where)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from repeated_keys(item, f"{path}[{index}]")


def _syntax_problem(text: str, error: yaml.MarkedYAMLError) -> str:
    mark = error.problem_mark or error.context_mark
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
    problem = f"{where}: {error.problem or 'invalid YAML'}"
    context = error.context_mark
    if error.context and context and (mark is None or (context.line, context.column) != (mark.line, mark.column)):
        problem += f" ({error.context} at line {context.line + 1}, column {context.column + 1})"
    lines = text.splitlines()
    if mark and mark.line < len(lines) and "\t" in lines[mark.line][: mark.column + 1]:
        problem += "; the line holds a tab: YAML indents with spaces only"
    return problem


def read_document(path: Path) -> dict[str, Any]:
    """The whole stack file as a mapping; raises ``StackFileError`` listing what makes it unreadable."""
    text = path.read_text()
    loader = _LOADER(text)
    try:
        node = loader.get_single_node()
        problems = list(repeated_keys(node)) if node is not None else []
        if problems:
            raise StackFileError(path, problems)
        document = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        raise StackFileError(path, [_syntax_problem(text, exc)]) from None
    except yaml.YAMLError as exc:
        raise StackFileError(path, [f"invalid YAML: {exc}"]) from None
    finally:
        loader.dispose()
    document = document or {}
    if not isinstance(document, dict) or not isinstance(document.get("config") or {}, dict):
        raise StackFileError(path, ["expected a mapping with a `config:` mapping of keys"])
    return document


def read_stack_config(stack: str, root: Path) -> dict[str, Any]:
    """The ``config:`` map of ``Pulumi.<stack>.yaml`` in ``root`` (values as written, ``secure:`` kept)."""
    return dict(read_document(stack_file(stack, root)).get("config") or {})
