"""Every config fixture runs through the whole program (offline/engine.py).

``tests/fixtures/config/happy.*.yaml`` must plan; ``error.<reason>.yaml`` must fail
with a ``ConfigError`` that names each key listed under ``expect:`` (and contains
each text under ``message:``) before a single resource is registered. A fixture is
read as ``make plan`` reads a stack file (``offline/stackfile.py``), and its
``config:`` map is run. ``error.file-<reason>.yaml`` fixtures are stack files the
reader refuses (a key given twice, bad YAML): the ``StackFileError`` names the keys
and holds the texts; a fixture that is not YAML at all gives its ``message:`` texts
in ``# message: ...`` comment lines.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from components.config import ConfigError
from offline import engine
from offline.stackfile import StackFileError, read_document

FIXTURES = Path(__file__).parent / "fixtures" / "config"
HAPPY = sorted(FIXTURES.glob("happy.*.yaml"))
ERRORS = sorted(FIXTURES.glob("error.*.yaml"))


def _expectations(path: Path) -> dict[str, Any]:
    """The fixture's ``expect:`` and ``message:`` (from ``# message:`` comments when the file is not YAML)."""
    text = path.read_text()
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError:
        comments = [line.removeprefix("# message:").strip() for line in text.splitlines()
                    if line.startswith("# message:")]
        return {"expect": [], "message": comments}
    return {"expect": document.get("expect") or [], "message": document.get("message") or []}


def _load(path: Path) -> dict[str, Any]:
    document = read_document(path)
    assert isinstance(document.get("config"), dict), f"{path.name}: no config: map"
    return document


@pytest.mark.parametrize("path", [p for p in ERRORS if p.name.startswith("error.file-")], ids=lambda p: p.name)
def test_stack_file_fixture(path: Path) -> None:
    expected = _expectations(path)
    assert expected["expect"] or expected["message"], f"{path.name}: say what the error names"
    with pytest.raises(StackFileError) as raised:
        read_document(path)
    error = raised.value
    for key in expected["expect"]:
        assert any(problem.startswith(f"{key}: ") for problem in error.problems), f"{path.name}: no {key}:\n{error}"
    for text in expected["message"]:
        assert text in str(error), f"{path.name}: {text!r} not in:\n{error}"


@pytest.fixture
def monitors(monkeypatch: pytest.MonkeyPatch) -> list[engine.EngineMonitor]:
    """Every EngineMonitor the runs create, to count registrations even when ``run`` raises."""
    created: list[engine.EngineMonitor] = []

    class Recording(engine.EngineMonitor):
        def __init__(self, mocks: engine.EngineMocks) -> None:
            super().__init__(mocks)
            created.append(self)

    monkeypatch.setattr(engine, "EngineMonitor", Recording)
    return created


def test_there_are_enough_fixtures() -> None:
    assert len(HAPPY) >= 2
    assert len(ERRORS) >= 25


@pytest.mark.parametrize("path", HAPPY + [p for p in ERRORS if not p.name.startswith("error.file-")],
                         ids=lambda p: p.name)
def test_config_fixture(path: Path, monitors: list[engine.EngineMonitor]) -> None:
    document = _load(path)
    if path.name.startswith("happy."):
        result = engine.run(document["config"], stack="fixture")
        assert result.resources, "a valid config plans resources"
        assert result.outputs["hubUrl"].value == f"https://{document['config']['dossier:fqdn']}"
        assert len(monitors) == 1 and monitors[0].order, "the recording monitor sees registrations"
        return

    expected = _expectations(path)["expect"]
    assert isinstance(expected, list) and expected, f"{path.name}: `expect:` lists the keys the error names"
    with pytest.raises(ConfigError) as raised:
        engine.run(document["config"], stack="fixture")
    error = raised.value
    for key in expected:
        assert any(problem.startswith(f"{key}: ") for problem in error.problems), (
            f"{path.name}: no problem names {key}:\n{error}"
        )
    for text in document.get("message") or []:
        assert text in str(error), f"{path.name}: {text!r} not in:\n{error}"
    # Nothing half-applied: the program stopped before registering anything.
    assert len(monitors) == 1
    assert monitors[0].registrations == {}
    assert monitors[0].order == []
