"""Reading the project's Markdown pages: fenced blocks, shell commands, links and heading anchors.

Used by ``tests/test_docs.py``, ``tests/test_doc_commands.py`` and the end-to-end
tests that run documented commands. Pages are ``README.md`` and ``docs/*.md``; the
changelog (``CHANGELOG.md``) is read with them for its commands and links (its
**Upgrading** notes show commands too). Anchors follow GitHub's slugs. ``project_copy`` gives a documented command a
copy of the project to run in.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from offline.engine import ROOT

_CACHES = shutil.ignore_patterns(".git", ".venv", "__pycache__", ".*_cache", ".hypothesis")


def _not_copied(folder: str, names: list[str]) -> set[str]:
    """Caches, and the plan's output ``build/`` at the top (not the toolchain pieces' ``build`` scripts)."""
    ignored = set(_CACHES(folder, names))
    if Path(folder) == ROOT and "build" in names:
        ignored.add("build")
    return ignored


def project_copy(into: Path) -> Path:
    """A copy of the working tree (no build/, no caches, mtimes kept) sharing this tree's .venv: a command may write
    into it, and ``make`` finds the virtualenv up to date."""
    shutil.copytree(ROOT, into, ignore=_not_copied, symlinks=True)
    (into / ".venv").symlink_to(ROOT / ".venv")
    return into


def pages() -> list[Path]:
    """The documentation: the README, then ``docs/*.md``."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def shown_pages() -> list[Path]:
    """The pages whose commands must be exercised and whose links must resolve: the docs and the changelog."""
    return [*pages(), ROOT / "CHANGELOG.md"]


def name(page: Path) -> str:
    return str(page.relative_to(ROOT))


_FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`\s]*)")
SHELL = {"sh", "bash", "shell", "console"}


@dataclass(frozen=True)
class Block:
    info: str
    lines: list[tuple[int, str]]  # (line number, text without the fence's indentation)


def blocks(text: str) -> Iterator[Block]:
    """The fenced code blocks of a Markdown text (indented ones, in list items, too)."""
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        index += 1
        if not opening:
            continue
        indent, fence = opening["indent"], opening["fence"]
        body: list[tuple[int, str]] = []
        while index < len(lines) and not lines[index].strip().startswith(fence):
            line = lines[index]
            body.append((index + 1, line[len(indent):] if line.startswith(indent) else line.lstrip()))
            index += 1
        index += 1
        yield Block(opening["info"].lower(), body)


def strip_comment(line: str) -> str:
    """``line`` without a shell comment: a ``#`` that starts a word, outside quotes."""
    quote = ""
    for position, char in enumerate(line):
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "#" and (position == 0 or line[position - 1].isspace()):
            return line[:position].rstrip()
    return line.rstrip()


def commands(block: Block) -> Iterator[tuple[int, str]]:
    """(line number, command) of a shell block: continued lines joined, comments dropped, spaces collapsed."""
    pending: list[str] = []
    first = 0
    for number, raw in block.lines:
        line = raw
        if block.info == "console" and not pending:
            if not line.startswith("$ "):
                continue  # output
            line = line[2:]
        line = strip_comment(line).strip()
        if not line and not pending:
            continue
        if not pending:
            first = number
        if line.endswith("\\"):
            pending.append(line[:-1])
            continue
        pending.append(line)
        if line.endswith(("|", "&&", "||")):
            continue
        yield first, " ".join(" ".join(pending).split())
        pending = []
    if pending:
        yield first, " ".join(" ".join(pending).split())


def documented_commands() -> dict[str, list[str]]:
    """Every shell command of the docs -> where it is shown (``page:line``)."""
    found: dict[str, list[str]] = {}
    for page in shown_pages():
        for block in blocks(page.read_text()):
            if block.info in SHELL:
                for line, command in commands(block):
                    found.setdefault(command, []).append(f"{name(page)}:{line}")
    return found


# --- links and anchors --------------------------------------------------------------

_LINK = re.compile(r"(?<!!)\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_IMAGE = re.compile(r"!\[[^\]]*\]\(\s*<?([^)\s>]+)>?")
_REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)")
_CODE_SPAN = re.compile(r"(`+).*?\1")
_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_HTML_ID = re.compile(r"<a\s+(?:name|id)=\"([^\"]+)\"")


def prose_lines(text: str) -> Iterator[tuple[int, str]]:
    """(line number, line) outside fenced code."""
    fence = ""
    for number, line in enumerate(text.splitlines(), 1):
        opening = _FENCE.match(line)
        if fence:
            if line.strip().startswith(fence):
                fence = ""
            continue
        if opening:
            fence = opening["fence"]
            continue
        yield number, line


def links(text: str) -> Iterator[tuple[int, str]]:
    for number, line in prose_lines(text):
        line = _CODE_SPAN.sub(lambda m: " " * len(m.group(0)), line)
        for pattern in (_LINK, _IMAGE, _REFERENCE):
            for match in pattern.finditer(line):
                yield number, match.group(1)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"`([^`]*)`", r"\1", heading)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link's text
    text = re.sub(r"<[^>]+>", "", text)
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors(text: str) -> set[str]:
    """The anchors a page offers: its headings' slugs (repeats numbered -1, -2, ...) and HTML ids."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    for _, line in prose_lines(text):
        found.update(_HTML_ID.findall(line))
        heading = _HEADING.match(line)
        if heading:
            base = slug(heading.group(2))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
    return found


def broken_links(page: Path, root: Path = ROOT) -> Iterator[str]:
    text = page.read_text()
    for number, target in links(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):
            continue  # https:, mailto:, ...
        path_part, _, anchor = target.partition("#")
        where = f"{page.relative_to(root)}:{number}: {target}"
        resolved = (page.parent / path_part).resolve() if path_part else page
        if not resolved.is_relative_to(root):
            yield f"{where}: points outside the project"
            continue
        if not resolved.exists():
            yield f"{where}: no such file"
            continue
        if anchor and resolved.suffix == ".md" and anchor not in anchors(resolved.read_text()):
            yield f"{where}: no heading #{anchor} in {resolved.relative_to(root)}"


# --- pointers written in prose, code comments and messages -----------------------------------

#: Where a page is named outside a Markdown link: ``docs/operations.md``, ``operations.md`` (from docs/ or
#: a comment that speaks of the docs), ``README.md``, each optionally with ``#anchor``; or ``README`` alone
#: when a section title follows. Not preceded by a path (``../x.md``, a URL): those are not this project's pages.
_POINTER = re.compile(
    r"(?<![\w./-])(?P<page>(?:docs/)?[A-Za-z0-9][\w.-]*\.md|README)(?:#(?P<anchor>[\w-]+))?"
    # Section titles, quoted: `page, "Title"`, `page "Title"`, `page ("Title")`, `page, "A", "B" and "C"`;
    # a quote may be escaped (a message inside a Python string).
    r"(?P<titles>(?:,\s?|\s)\(?\\?\"[^\"\n\\]+\\?\"(?:(?:,\s?|\s+and\s+)\\?\"[^\"\n\\]+\\?\")*)?"
)
_TITLE = re.compile(r"\\?\"([^\"\n\\]+)\\?\"")
#: The files whose text may point at a page: code, scripts, workflows, config and the pages themselves.
_TEXT_SUFFIXES = {".py", ".md", ".yml", ".yaml", ".toml", ".go", ".txt", ".cfg", ".sh", ".in", ""}
_NOT_SCANNED = {".git", ".venv", "build", "__pycache__", ".hypothesis", "node_modules"}


@dataclass(frozen=True)
class Pointer:
    line: int
    page: str
    anchor: str
    titles: tuple[str, ...]


def pointers(text: str) -> Iterator[Pointer]:
    """Every pointer to a page (and to its sections) in ``text``, in any of the forms ``_POINTER`` reads."""
    for number, line in enumerate(text.splitlines(), 1):
        for match in _POINTER.finditer(line):
            titles = tuple(_TITLE.findall(match["titles"] or ""))
            if match["page"] == "README" and not titles:
                continue  # "the README" in a sentence: no section named
            yield Pointer(number, match["page"], match["anchor"] or "", titles)


#: A step of another page's numbered list, pointed at by its number (``README step N``, ``README's steps N and M``,
#: ``README <section title>, step N``, ``step N of the README``, ``[step N](../README.md#<section>)``, with digits for
#: N). The number names another step as soon as one is added or removed above it, and no check can tell: point at
#: the section and say what the step does instead. Words may be split by a line break, in a comment too.
_GAP = r"(?:[ \t]*\n[ \t]*(?:#:?|//|\*)?[ \t]*|[ \t]+)"
_PAGE = r"(?:README|[\w./-]*\.md)(?:#[\w-]+)?"
_NUMBER = rf"[Ss]teps?{_GAP}\d+(?:{_GAP}?(?:,|and|to|-){_GAP}?\d+)*\b"
_STEP_POINTER = re.compile(
    rf"{_PAGE}(?:'s)?(?:,?{_GAP}?\(?\\?\"[^\"\n\\]+\\?\"\)?)?,?{_GAP}{_NUMBER}"
    rf"|{_NUMBER}{_GAP}of{_GAP}(?:the{_GAP})?{_PAGE}"
    rf"|\[{_NUMBER}[^\]]*\]\([^)]*{_PAGE}"
)


def step_pointers(path: Path, root: Path = ROOT) -> Iterator[str]:
    """Pointers in ``path`` to a page's step by its number (``_STEP_POINTER``), wherever a line breaks them."""
    try:
        text = path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return
    for match in _STEP_POINTER.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        yield f"{path.relative_to(root)}:{line}: {re.sub(_GAP, ' ', match.group(0))}"


def project_text_files(root: Path = ROOT) -> list[Path]:
    """The project's own text files (no virtualenvs, builds, caches or lock files)."""
    found = []
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(d for d in subfolders if d not in _NOT_SCANNED and not d.endswith("_cache"))
        found += [Path(folder) / f for f in sorted(files) if Path(f).suffix in _TEXT_SUFFIXES and f != "go.sum"]
    return found


def _page_of(pointer: Pointer, where: Path, root: Path) -> Path | None:
    """The page a pointer names: relative to where it is written, else the project's root, else docs/.

    ``README`` by name alone is the project's README, wherever it is written.
    """
    name = pointer.page
    candidates = [root / "README.md"] if name == "README" else [where.parent / name, root / name, root / "docs" / name]
    for candidate in candidates:
        if candidate.is_file() and candidate.resolve().is_relative_to(root):
            return candidate.resolve()
    return None


def broken_pointers(path: Path, root: Path = ROOT) -> Iterator[str]:
    """Pointers in ``path`` to a page that does not exist, or to a section (anchor or title) it does not hold."""
    try:
        text = path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return
    for pointer in pointers(text):
        where = f"{path.relative_to(root)}:{pointer.line}"
        page = _page_of(pointer, path, root)
        if page is None:
            yield f"{where}: {pointer.page}: no such page"
            continue
        offered = anchors(page.read_text())
        named = page.relative_to(root)
        if pointer.anchor and pointer.anchor not in offered:
            yield f"{where}: {pointer.page}#{pointer.anchor}: no heading #{pointer.anchor} in {named}"
        for title in pointer.titles:
            if slug(title) not in offered:
                yield f'{where}: {pointer.page}, "{title}": no section "{title}" in {named}'
