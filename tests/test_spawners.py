"""The Spawner CRD and remote spawners."""

from __future__ import annotations

import jsonschema

from offline.engine import RunResult, reveal

CRD = "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"
SPAWNER = "kubernetes:dossier.unito.it/v1alpha1:Spawner"


def test_crd_matches_dossier_description(dev: RunResult) -> None:
    crd = reveal(dev.one(CRD).inputs)
    assert crd["metadata"]["name"] == "spawners.dossier.unito.it"
    spec = crd["spec"]
    assert spec["group"] == "dossier.unito.it"
    assert spec["scope"] == "Cluster"
    assert spec["names"]["kind"] == "Spawner" and spec["names"]["plural"] == "spawners"
    [version] = spec["versions"]
    assert (version["name"], version["served"], version["storage"]) == ("v1alpha1", True, True)
    body = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert body["required"] == ["class"]
    assert body["properties"]["tenants"] == {"type": "array", "items": {"type": "string"}}
    for free in ("parameters", "properties"):
        assert body["properties"][free]["x-kubernetes-preserve-unknown-fields"] is True


def test_cluster_role_refers_to_the_crd_api(dev: RunResult) -> None:
    crd = reveal(dev.one(CRD).inputs)["spec"]
    role = reveal(dev.one("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole").inputs)
    assert {"apiGroups": [crd["group"]], "resources": [crd["names"]["plural"]], "verbs": ["get", "list"]} in role[
        "rules"
    ]


def test_remote_spawners_render_against_the_crd(run_program) -> None:
    result = run_program(
        spawners=[
            {
                "name": "hpc-cluster",
                "class": "dossier.spawners.sshspawner.SSHSpawner",
                "properties": {"host": "login.hpc.example.org"},
                "parameters": {},
                "tenants": ["jhub"],
            }
        ]
    )
    spawner = reveal(result.one(SPAWNER).inputs)
    assert spawner["metadata"]["name"] == "hpc-cluster"
    assert spawner["spec"] == {
        "class": "dossier.spawners.sshspawner.SSHSpawner",
        "properties": {"host": "login.hpc.example.org"},
        "parameters": {},
        "tenants": ["jhub"],
    }
    assert spawner["metadata"]["annotations"]  # Dossier reads metadata.annotations of every Spawner
    assert result.one(CRD).urn in result.one(SPAWNER).dependencies
    schema = reveal(result.one(CRD).inputs)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    jsonschema.Draft4Validator(schema).validate(spawner)
