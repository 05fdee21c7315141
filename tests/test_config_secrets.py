"""Credentials in stack files are ``secure:``: a key named like a password, secret or token never holds plain text."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from offline.engine import ROOT

SECRET_NAME = re.compile(r"pass(word|wd|phrase)?|secret|token|credential|api[-_]?key|private[-_]?key", re.I)
STACK_FILES = sorted(ROOT.glob("Pulumi.*.yaml"))


def plain_secrets(value: Any, path: str = "") -> Iterator[str]:
    """Paths of keys named like a credential whose value is not ``{secure: ...}`` (nested keys too)."""
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            name = str(key).rsplit(":", 1)[-1]
            if SECRET_NAME.search(name) and not (isinstance(item, dict) and set(item) == {"secure"}):
                yield where
            else:
                yield from plain_secrets(item, where)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from plain_secrets(item, f"{path}[{index}]")


def test_there_are_stack_files() -> None:
    assert {p.name for p in STACK_FILES} >= {"Pulumi.dev.yaml", "Pulumi.prod.yaml"}


@pytest.mark.parametrize("stack_file", STACK_FILES, ids=lambda p: p.name)
def test_credentials_are_secure(stack_file: Path) -> None:
    config = (yaml.safe_load(stack_file.read_text()) or {}).get("config") or {}
    assert list(plain_secrets(config)) == [], f"{stack_file.name}: set these with `pulumi config set --secret`"


@pytest.mark.parametrize(
    ("config", "found"),
    [
        ({"keycloak:clientSecret": "hunter2"}, ["keycloak:clientSecret"]),
        ({"app:db": {"adminPassword": "x", "host": "db"}}, ["app:db.adminPassword"]),
        ({"app:hooks": [{"apiToken": {"nested": "x"}}]}, ["app:hooks[0].apiToken"]),
        ({"keycloak:clientSecret": {"secure": "v1:abc"}, "app:db": {"password": {"secure": "v1:abc"}}}, []),
        ({"keycloak:clientId": "pulumi", "dossier:tokenizer": {"secure": "v1:x"}}, []),
    ],
)
def test_the_check_finds_plain_credentials(config: dict[str, Any], found: list[str]) -> None:
    assert list(plain_secrets(config)) == found
