"""The program's versions: CHANGELOG.md (Keep a Changelog), VERSION, the policy pack's version (docs/upgrades.md)."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import yaml

from offline import plan
from offline.engine import ROOT

CHANGELOG = (ROOT / "CHANGELOG.md").read_text()
HEADING = re.compile(r"^## \[(?P<name>[^\]]+)\](?: - (?P<date>\d{4}-\d{2}-\d{2}))?$", re.M)
SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
#: Keep a Changelog's kinds of change, and this project's upgrade notes.
SECTIONS = {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security", "Upgrading"}


def releases() -> list[tuple[str, str | None, str]]:
    """(name, date, body) of every ``## [...]`` section, in the order written."""
    found = list(HEADING.finditer(CHANGELOG))
    ends = [m.start() for m in found[1:]] + [len(CHANGELOG)]
    return [(m["name"], m["date"], CHANGELOG[m.end():end]) for m, end in zip(found, ends, strict=True)]


def test_the_changelog_keeps_a_changelog() -> None:
    assert CHANGELOG.startswith("# Changelog\n")
    names = [name for name, _, _ in releases()]
    assert names[0] == "Unreleased", "the first section collects what is not released yet"
    versions = names[1:]
    assert versions, "at least one release"
    for name, day, body in releases()[1:]:
        assert SEMVER.match(name), f"{name}: not a version x.y.z"
        assert day is not None and date.fromisoformat(day), f"{name}: no release date"
        sections = re.findall(r"^### (.+)$", body, re.M)
        assert sections and set(sections) <= SECTIONS, f"{name}: sections {sections}"
    as_numbers = [tuple(int(p) for p in v.split(".")) for v in versions]
    assert as_numbers == sorted(as_numbers, reverse=True) and len(set(as_numbers)) == len(as_numbers), versions
    days = [day for _, day, _ in releases()[1:]]
    assert days == sorted(days, reverse=True), "newest first"


def test_the_program_reports_the_changelogs_latest_version() -> None:
    latest = releases()[1][0]
    assert plan.program_version() == latest == (ROOT / "VERSION").read_text().strip()
    pack = yaml.safe_load((ROOT / "policy" / "PulumiPolicy.yaml").read_text())
    assert str(pack["version"]) == latest, "the policy pack is released with the program"


def test_program_version_of_a_tree_without_one(tmp_path: Path) -> None:
    assert plan.program_version(tmp_path) == "unknown"
    (tmp_path / "VERSION").write_text("0.9.1\n")
    assert plan.program_version(tmp_path) == "0.9.1"
