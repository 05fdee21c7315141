"""The engine stand-in behaves like the engine where the project depends on it."""

from __future__ import annotations

from pathlib import Path

import pytest

from offline.engine import UNKNOWN, DuplicateUrnError, Secret, run


def _program(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "__main__.py"
    path.write_text(body)
    return path


def test_additional_secret_outputs_are_applied(tmp_path: Path) -> None:
    # The stock mocks leave RandomPassword.result plain; the engine marks it secret.
    program = _program(
        tmp_path,
        "import pulumi, pulumi_random as random\n"
        "p = random.RandomPassword('p', length=12)\n"
        "pulumi.export('plain_use', p.result)\n",
    )
    result = run({}, program=program)
    assert result.outputs["plain_use"].secret is True
    assert isinstance(result.named("p").outputs["result"], Secret)
    assert result.generated_secrets == [result.outputs["plain_use"].value]


def test_resource_options_are_recorded(tmp_path: Path) -> None:
    program = _program(
        tmp_path,
        "import pulumi\nfrom pulumi_kubernetes.core.v1 import Namespace\n"
        "a = Namespace('a', opts=pulumi.ResourceOptions(protect=True, retain_on_delete=True))\n"
        "Namespace('b', opts=pulumi.ResourceOptions(depends_on=[a], ignore_changes=['metadata']))\n",
    )
    result = run({}, program=program)
    a, b = result.named("a"), result.named("b")
    assert (a.protect, a.retain_on_delete) == (True, True)
    assert (b.protect, b.retain_on_delete) == (False, False)
    assert b.dependencies == [a.urn]
    assert b.ignore_changes == ["metadata"]


def test_aliases_are_recorded_as_the_urns_they_stand_for(tmp_path: Path) -> None:
    # What a spec leaves out is the resource's own; the kubernetes SDK aliases by type alone.
    program = _program(
        tmp_path,
        "import pulumi\nfrom pulumi_kubernetes.core.v1 import ConfigMap\n"
        "from pulumi_kubernetes.rbac.v1 import ClusterRole\n"
        "class Box(pulumi.ComponentResource):\n"
        "    def __init__(self, name):\n"
        "        super().__init__('test:index:Box', name)\n"
        "box = Box('box')\n"
        "ConfigMap('c', opts=pulumi.ResourceOptions(parent=box, aliases=[\n"
        "    pulumi.Alias(name='old'), pulumi.Alias(parent=pulumi.ROOT_STACK_RESOURCE),\n"
        "    pulumi.Alias(stack='other'), 'urn:pulumi:x::y::kubernetes:core/v1:ConfigMap::given']))\n"
        "ClusterRole('r')\n",
    )
    result = run({}, program=program, stack="dev")
    here = "urn:pulumi:dev::dossier::"
    assert result.named("c").aliases == [
        here + "test:index:Box$kubernetes:core/v1:ConfigMap::old",
        here + "kubernetes:core/v1:ConfigMap::c",
        "urn:pulumi:other::dossier::test:index:Box$kubernetes:core/v1:ConfigMap::c",
        "urn:pulumi:x::y::kubernetes:core/v1:ConfigMap::given",
    ]
    assert sorted(result.named("r").aliases) == [
        here + f"kubernetes:rbac.authorization.k8s.io/{version}:ClusterRole::r" for version in ("v1alpha1", "v1beta1")
    ]


def test_duplicate_urns_are_refused(tmp_path: Path) -> None:
    program = _program(
        tmp_path,
        "from pulumi_kubernetes.core.v1 import Namespace\nNamespace('same')\nNamespace('same')\n",
    )
    with pytest.raises(DuplicateUrnError, match="Duplicate resource URN"):
        run({}, program=program)


def test_nested_secrets_stay_marked_in_inputs(tmp_path: Path) -> None:
    program = _program(
        tmp_path,
        "import pulumi\nfrom pulumi_kubernetes.core.v1 import ConfigMap\n"
        "ConfigMap('c', data={'plain': 'x', 'hidden': pulumi.Output.secret('s3cr3t')})\n",
    )
    data = run({}, program=program).named("c").inputs["data"]
    assert data == {"plain": "x", "hidden": Secret("s3cr3t")}


def test_preview_leaves_provider_computed_values_unknown(tmp_path: Path) -> None:
    program = _program(
        tmp_path,
        "import pulumi, pulumi_random as random\n"
        "p = random.RandomPassword('p', length=12)\n"
        "pulumi.export('pw', p.result)\n",
    )
    result = run({}, program=program, preview=True)
    assert result.outputs["pw"].known is False
    assert result.generated_secrets == []
    assert result.outputs["pw"].value is UNKNOWN or result.outputs["pw"].value is None


def test_secure_config_reaches_the_program_as_a_secret(tmp_path: Path) -> None:
    program = _program(
        tmp_path,
        "import pulumi\npulumi.export('s', pulumi.Config('keycloak').require_secret('clientSecret'))\n",
    )
    result = run({"keycloak:clientSecret": {"secure": "v1:abc"}}, program=program)
    assert result.outputs["s"].secret is True
