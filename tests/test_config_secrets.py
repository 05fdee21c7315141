"""Credentials in stack files are ``secure:``, and every ``secure:`` value is one a real Pulumi CLI can decrypt.

A key named like a password, secret or token never holds plain text. A ``secure:``
value has the form of the secrets provider the file names (pulumi/pulumi
``sdk/go/common/resource/config/crypt.go``, ``pkg/secrets/``): the passphrase and
cloud-KMS providers write ``v1:<base64 12-byte nonce>:<base64 AES-256-GCM
ciphertext>`` and need the file's ``encryptionsalt`` or ``encryptedkey``; Pulumi
Cloud writes one base64 string and the file then holds neither (the CLI would pick
the passphrase provider for a file with a salt). A placeholder that fits none of
these stops ``pulumi preview`` before the program runs.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from offline.engine import ROOT
from tests.stacks import STACKS

SECRET_NAME = re.compile(r"pass(word|wd|phrase)?|secret|token|credential|api[-_]?key|private[-_]?key", re.I)
#: The user's stack files (any the project holds) and the tests' own.
STACK_FILES = sorted(ROOT.glob("Pulumi.*.yaml")) + sorted(STACKS.glob("Pulumi.*.yaml"))


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


#: Stack-file keys that say which secrets provider encrypted its ``secure:`` values.
SYMMETRIC_STATE = ("encryptionsalt", "encryptedkey")
NONCE_BYTES, TAG_BYTES = 12, 16


def _base64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def secure_values(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """``(path, ciphertext)`` of every ``{secure: ...}`` value, at any depth."""
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            yield path, value["secure"]
            return
        for key, item in value.items():
            yield from secure_values(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from secure_values(item, f"{path}[{index}]")


def undecryptable(document: dict[str, Any]) -> Iterator[str]:
    """A problem per ``secure:`` value whose form no secrets provider of the file could decrypt."""
    symmetric = any(document.get(key) for key in SYMMETRIC_STATE)
    for path, ciphertext in secure_values(document.get("config") or {}):
        if not isinstance(ciphertext, str) or not ciphertext:
            yield f"{path}: empty or not a string"
            continue
        parts = ciphertext.split(":")
        if len(parts) == 1:
            if _base64(ciphertext) is None:
                yield f"{path}: not base64 (a Pulumi Cloud ciphertext is one base64 string)"
            elif symmetric:
                yield f"{path}: a Pulumi Cloud ciphertext in a file with {'/'.join(SYMMETRIC_STATE)}"
            continue
        nonce, sealed = (_base64(parts[1]), _base64(parts[2])) if len(parts) == 3 else (None, None)
        if parts[0] != "v1" or nonce is None or sealed is None:
            yield f"{path}: expected v1:<base64 nonce>:<base64 ciphertext> (got {ciphertext!r})"
        elif len(nonce) != NONCE_BYTES or len(sealed) < TAG_BYTES:
            yield f"{path}: a {len(nonce)}-byte nonce and {len(sealed)}-byte ciphertext are not AES-256-GCM's"
        elif not symmetric:
            yield f"{path}: a passphrase/KMS ciphertext, but the file has no {' or '.join(SYMMETRIC_STATE)}"


def test_there_are_stack_files() -> None:
    # The glob finds files: the tests' own two, whichever stacks the user keeps.
    assert {p.relative_to(ROOT).as_posix() for p in STACK_FILES} >= {
        "tests/fixtures/stacks/Pulumi.dev.yaml", "tests/fixtures/stacks/Pulumi.prod.yaml"}
    # One of them holds a ciphertext, so the form check below has something to check.
    assert any(secure_values((yaml.safe_load(p.read_text()) or {}).get("config")) for p in STACK_FILES)


@pytest.mark.parametrize("stack_file", STACK_FILES, ids=lambda p: p.relative_to(ROOT).as_posix())
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


@pytest.mark.parametrize("stack_file", STACK_FILES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_secure_values_have_a_form_the_cli_can_decrypt(stack_file: Path) -> None:
    document = yaml.safe_load(stack_file.read_text()) or {}
    assert list(undecryptable(document)) == [], (
        f"{stack_file.name}: set these with `pulumi config set --secret` on a real stack (docs/configuration.md)"
    )


#: Shaped like the CLI's output: a 12-byte nonce and a 6-byte plaintext sealed with its 16-byte tag.
NONCE = base64.b64encode(bytes(range(12))).decode()
SEALED = base64.b64encode(bytes(range(22))).decode()
PASSPHRASE_VALUE = f"v1:{NONCE}:{SEALED}"
SALT = f"v1:{base64.b64encode(bytes(8)).decode()}:{PASSPHRASE_VALUE}"
SERVICE_VALUE = base64.b64encode(bytes(range(40))).decode()


@pytest.mark.parametrize(
    ("document", "problems"),
    [
        ({"encryptionsalt": SALT, "config": {"keycloak:clientSecret": {"secure": PASSPHRASE_VALUE}}}, []),
        ({"secretsprovider": "awskms://alias/x", "encryptedkey": "a2V5",
          "config": {"app:db": {"password": {"secure": PASSPHRASE_VALUE}}}}, []),
        ({"config": {"keycloak:clientSecret": {"secure": SERVICE_VALUE}}}, []),
        ({"config": {"keycloak:url": "https://auth.example.org"}}, []),
        # The placeholders the example stacks used to ship.
        ({"config": {"keycloak:clientSecret": {"secure": "v1:devplaceholdercipher=="}}},
         ["keycloak:clientSecret: expected v1:<base64 nonce>:<base64 ciphertext> (got 'v1:devplaceholdercipher==')"]),
        ({"encryptionsalt": SALT, "config": {"keycloak:clientSecret": {"secure": "v1:prodplaceholdercipher=="}}},
         ["keycloak:clientSecret: expected v1:<base64 nonce>:<base64 ciphertext> (got 'v1:prodplaceholdercipher==')"]),
        ({"config": {"keycloak:clientSecret": {"secure": PASSPHRASE_VALUE}}},
         ["keycloak:clientSecret: a passphrase/KMS ciphertext, but the file has no encryptionsalt or encryptedkey"]),
        ({"encryptionsalt": SALT, "config": {"a:b": {"secure": SERVICE_VALUE}}},
         ["a:b: a Pulumi Cloud ciphertext in a file with encryptionsalt/encryptedkey"]),
        ({"encryptionsalt": SALT, "config": {"a:b": {"secure": f"v1:{SEALED}:{SEALED}"}}},
         ["a:b: a 22-byte nonce and 22-byte ciphertext are not AES-256-GCM's"]),
        ({"config": {"a:b": {"secure": "not base64!"}}},
         ["a:b: not base64 (a Pulumi Cloud ciphertext is one base64 string)"]),
        ({"config": {"a:list": [{"token": {"secure": ""}}]}}, ["a:list[0].token: empty or not a string"]),
    ],
)
def test_the_check_finds_ciphertexts_no_cli_can_decrypt(document: dict[str, Any], problems: list[str]) -> None:
    assert list(undecryptable(document)) == problems
