"""Property-based: generated valid configs load and plan; one invalid field is named in the error.

Valid configs run the whole program (offline/engine.py), so their number is kept
small; the mutations only parse (cheap) and run many more examples.
"""

from __future__ import annotations

import copy
import ipaddress
import itertools
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components.config import NAMESPACE, ConfigError, key_path, parse
from offline.engine import run

_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"
_TOP_STRINGS = {"fqdn", "namespace"}


# --- valid values -----------------------------------------------------------


@st.composite
def dns_labels(draw: st.DrawFn, max_size: int = 63) -> str:
    size = draw(st.integers(1, max_size))
    if size == 1:
        return draw(st.sampled_from(_ALNUM))
    ends = draw(st.text(_ALNUM, min_size=2, max_size=2))
    middle = draw(st.text(_ALNUM + "-", min_size=size - 2, max_size=size - 2))
    return ends[0] + middle + ends[1]


# The top-level label is never all digits (that would be an IP address).
top_labels = st.sampled_from(["org", "example", "io", "k8s-local"])
fqdns = st.builds("{}.{}".format, st.lists(dns_labels(20), min_size=1, max_size=3).map(".".join), top_labels)
subdomains = st.lists(dns_labels(15), min_size=1, max_size=3).map(".".join)
semvers = st.tuples(*[st.integers(0, 40)] * 3).map(lambda v: ".".join(map(str, v)))
quantities = st.builds(
    "{}{}".format, st.integers(1, 4096), st.sampled_from(["", "m", "k", "M", "G", "Ki", "Mi", "Gi", "Ti"])
)
durations = st.one_of(
    st.builds("{}{}".format, st.integers(0, 10_000), st.sampled_from(["ms", "s", "m", "h"])),
    st.just("1h30m"),
    st.just("infinity"),
)
timeouts = st.one_of(
    st.builds("{}{}".format, st.integers(1, 10_000), st.sampled_from(["ms", "s", "m", "h"])),
    st.just("1h30m"),
    st.just("2.5m"),
)


def _network(address: Any, prefix: int) -> str:
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


networks = st.one_of(
    st.builds(_network, st.ip_addresses(v=4), st.integers(1, 32)),
    st.builds(_network, st.ip_addresses(v=6), st.integers(1, 128)),
)
names = st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=20).filter(lambda n: n != "postgres")
taint_keys = st.sampled_from(["node-role.kubernetes.io/control-plane", "dedicated", "example.org/gpu"])
effects = st.sampled_from(["NoSchedule", "PreferNoSchedule", "NoExecute"])
tolerations = st.one_of(
    st.fixed_dictionaries({"key": taint_keys, "operator": st.just("Exists")}, optional={"effect": effects}),
    st.fixed_dictionaries({"key": taint_keys, "value": dns_labels(10)}, optional={"effect": effects}),
    st.just({"operator": "Exists"}),
)


@st.composite
def bounds(draw: st.DrawFn, unit: str, admits: int | None = None) -> dict[str, str]:
    """min <= defaultRequest <= default <= max, as LimitRange admission wants; min <= admits <= default."""
    pivot = admits or draw(st.integers(1, 64_000))
    low, request = sorted(draw(st.lists(st.integers(1, pivot), min_size=2, max_size=2)))
    limit, high = sorted(draw(st.lists(st.integers(pivot, 64_000), min_size=2, max_size=2)))
    values = {"min": low, "defaultRequest": request, "default": limit, "max": high}
    return {key: f"{value}{unit}" for key, value in values.items()}


@st.composite
def group_extras(draw: st.DrawFn) -> dict[str, Any]:
    """Optional fields of a research group; a quota on cpu or memory comes with that limit range."""
    selectors = st.dictionaries(st.sampled_from(["pool", "example.org/gpu"]), dns_labels(10), max_size=2)
    quota = st.fixed_dictionaries({}, optional=dict.fromkeys(["cpu", "memory", "storage"], quantities))
    owner = st.fixed_dictionaries({"kind": st.sampled_from(["User", "Group"]), "name": dns_labels(10)})
    optional = {"nodeSelector": selectors, "resourceQuota": quota, "owners": st.lists(owner, max_size=2)}
    extras: dict[str, Any] = draw(st.fixed_dictionaries({}, optional=optional))
    # Memory admits the chart's 1Gi guarantee, which notebooks request under some policies.
    memory = bounds("Mi", admits=1024)
    limits = draw(st.fixed_dictionaries({}, optional={"cpu": bounds("m"), "memory": memory}))
    for resource, strategy in (("cpu", bounds("m")), ("memory", memory)):
        if resource in extras.get("resourceQuota", {}) and resource not in limits:
            limits[resource] = draw(strategy)
    if limits:
        extras["limits"] = limits
    return extras


@st.composite
def valid_configs(draw: st.DrawFn) -> dict[str, Any]:
    """A ``dossier:`` config (key -> value as in a stack file) that must load and plan."""
    config: dict[str, Any] = {
        "fqdn": draw(fqdns),
        "keycloak": {
            "url": "https://" + draw(fqdns) + draw(st.sampled_from(["", "/", "/auth", "/auth/"])),
            "realm": draw(dns_labels(20)),
            "clientId": draw(dns_labels(20)),
            "adminRoles": draw(st.lists(dns_labels(10), unique=True, max_size=3)),
        },
    }
    if draw(st.booleans()):
        config["namespace"] = draw(dns_labels(30))
    architecture = draw(st.sampled_from(["replication", "standalone"]))
    config["postgresql"] = {
        "architecture": architecture,
        "readReplicas": draw(st.integers(0, 3)) if architecture == "replication" else 0,
        "size": draw(quantities),
        "chartVersion": draw(semvers),
        "database": draw(names),
        "username": draw(names),
        "nodeSelector": draw(st.dictionaries(taint_keys, st.sampled_from(["", "db"]), max_size=2)),
        "tolerations": draw(st.lists(tolerations, max_size=2)),
    }
    config["jupyterhub"] = {
        "chartVersion": draw(semvers),
        "image": {"pullPolicy": draw(st.sampled_from(["Always", "IfNotPresent", "Never", None]))},
        "debug": draw(st.booleans()),
        "singleuser": {
            "startTimeout": draw(st.integers(1, 3600)),
            "defaultUrl": draw(st.sampled_from(["/tree/", "/lab", None])),
            "cloudMetadata": {"blockWithIptables": draw(st.booleans())},
        },
    }
    if draw(st.booleans()):
        config["jupyterhub"]["corePodTolerations"] = draw(st.lists(tolerations, max_size=3))
    hub_tenant = draw(dns_labels(20))
    config["tenant"] = {
        "name": hub_tenant,
        "namespaceQuota": draw(st.integers(1, 1000)),
        "egressExcept": draw(st.lists(networks, max_size=4)),
    }
    config["ingress"] = {"responseTimeout": draw(durations), "idleTimeout": draw(durations)}
    nodes = draw(st.lists(subdomains, unique=True, max_size=6))
    split = draw(st.integers(0, len(nodes)))
    config["nodes"] = {"user": nodes[:split], "core": nodes[split:]}
    config["protectData"] = draw(st.booleans())
    config["spawnerCrd"] = draw(st.booleans())
    config["deleteTimeout"] = draw(timeouts)
    config["releaseTimeout"] = draw(timeouts)
    taken = {hub_tenant, *config["keycloak"]["adminRoles"]}
    groups = draw(st.lists(dns_labels(20).filter(lambda n: n not in taken), unique=True, max_size=3))
    policies = st.sampled_from(["fixed", "profiles", "manual"])
    config["tenants"] = [
        {
            "name": g,
            "namespaceQuota": draw(st.integers(1, 50)),
            "imagePolicy": draw(policies),
            "resourcePolicy": draw(policies),
            **draw(group_extras()),
        }
        for g in groups
    ]
    config["spawners"] = [
        {
            "name": name,
            "class": "dossier.spawners.sshspawner.SSHSpawner",
            "tenants": draw(st.lists(st.sampled_from([hub_tenant, *groups]), unique=True, max_size=3)),
        }
        for name in draw(st.lists(subdomains, unique=True, max_size=2))
    ]
    return config


def _stack(config: dict[str, Any]) -> dict[str, Any]:
    return {f"{NAMESPACE}:{k}": v for k, v in config.items()}


def _raw(config: dict[str, Any]) -> dict[str, str]:
    """The values as the engine hands them to the program: strings, objects as JSON."""
    return {k: v if k in _TOP_STRINGS and isinstance(v, str) else json.dumps(v) for k, v in config.items()}


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_configs())
def test_valid_configs_load_and_plan(config: dict[str, Any]) -> None:
    cfg = parse(_raw(config))
    assert cfg.fqdn == config["fqdn"]
    result = run(_stack(config), stack="property")
    assert result.resources
    assert result.outputs["hubUrl"].value == f"https://{config['fqdn']}"


# --- one invalid field --------------------------------------------------------


def _not_a_bool_once_decoded(text: str) -> bool:
    try:
        return not isinstance(json.loads(text), bool)
    except ValueError:
        return True


def _corrupt(valid: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """A valid string made invalid: uppercase, a space, an underscore or a scheme put in."""
    return st.tuples(valid, st.sampled_from(["upper", "space", "underscore", "scheme", "empty"])).map(
        lambda pair: {
            "upper": pair[0].upper() + "X",
            "space": pair[0] + " x",
            "underscore": pair[0] + "_x",
            "scheme": "https://" + pair[0],
            "empty": "",
        }[pair[1]]
    )


not_int = st.one_of(st.booleans(), st.floats(allow_nan=False), st.text(max_size=5), st.none(), st.lists(st.integers()))
not_bool = st.one_of(st.integers(), st.text(max_size=8).filter(_not_a_bool_once_decoded), st.none(), st.floats())
bad_versions = st.one_of(
    st.sampled_from(["latest", "*", "12", "12.2", "v12.2.1", "^12.2.1", "~2.0.0", ">=2.0.0", "12.2.x", "01.2.3"]),
    semvers.map(lambda v: v + " "),
)
bad_quantities = st.one_of(
    st.sampled_from(["20GB", "20 Gi", "Gi", "-1Gi", "20gi", "lots", "", "0", "0Gi", "1.2.3"]), not_int.filter(
        lambda v: not isinstance(v, str)
    )
)
bad_durations = st.sampled_from(["650", "1 hour", "-1s", "10sec", "forever", "", "1d", "h"])
bad_cidrs = st.sampled_from(["10.0.0.1/8", "10.0.0.0/33", "fd00::/129", "300.0.0.0/8", "0.0.0.0/0", "::/0", "x", ""])
bad_urls = st.sampled_from(
    [
        "http://auth.example.org",
        "auth.example.org",
        "https://",
        "https://auth.example.org/?x=1",
        "https://auth.example.org/#frag",
        "https://user:pw@auth.example.org",
        "https://auth.example.org/realms/dossier",
        "ftp://auth.example.org",
    ]
)
bad_fqdns = st.one_of(
    _corrupt(fqdns),
    dns_labels(20),  # a single label is not fully qualified
    fqdns.map(lambda f: f + "."),
    fqdns.map(lambda f: f + "/hub"),
    fqdns.map(lambda f: f + ":443"),
    st.just("a" * 64 + ".example.org"),
    st.ip_addresses(v=4).map(str),
)

#: Path of one field -> invalid values for it.
MUTATIONS: dict[tuple[str | int, ...], st.SearchStrategy[Any]] = {
    ("fqdn",): bad_fqdns,
    ("namespace",): st.one_of(_corrupt(dns_labels(20)), st.just("a" * 64)),
    ("keycloak", "url"): bad_urls,
    ("keycloak", "realm"): st.sampled_from(["", "my realm", "a/b", "x?y", " "]),
    ("keycloak", "clientId"): st.sampled_from(["", "my client", "\t"]),
    ("postgresql", "architecture"): st.text(max_size=12).filter(lambda a: a not in ("replication", "standalone")),
    ("postgresql", "readReplicas"): st.one_of(st.integers(max_value=-1), not_int),
    ("postgresql", "size"): bad_quantities,
    ("postgresql", "chartVersion"): bad_versions,
    ("postgresql", "database"): st.sampled_from(["", "Jhub", "1db", "my-db", "a" * 64]),
    ("jupyterhub", "chartVersion"): bad_versions,
    ("postgresql", "chartRepository"): st.sampled_from(["ftp://charts.example.org", "charts", "file://", "oci://"]),
    ("postgresql", "nodeSelector", "bad key!"): st.just("x"),
    ("postgresql", "tolerations", 0, "operator"): st.text(max_size=8).filter(lambda o: o not in ("Exists", "Equal")),
    ("jupyterhub", "singleuser", "startTimeout"): st.one_of(st.integers(max_value=0), not_int),
    ("jupyterhub", "singleuser", "defaultUrl"): st.sampled_from(["tree", "", "/a b", "https://x/tree", "/x?y"]),
    ("jupyterhub", "singleuser", "cloudMetadata", "blockWithIptables"): not_bool,
    ("jupyterhub", "debug"): not_bool,
    ("jupyterhub", "image", "pullPolicy"): st.text(max_size=12).filter(
        lambda p: p not in ("Always", "IfNotPresent", "Never")
    ),
    ("jupyterhub", "corePodTolerations", 0, "effect"): st.sampled_from(["NoSchedul", "", "noschedule", "Always"]),
    ("tenant", "name"): _corrupt(dns_labels(20)),
    ("tenant", "namespaceQuota"): st.one_of(st.integers(max_value=0), not_int),
    ("tenant", "egressExcept", 0): bad_cidrs,
    ("ingress", "responseTimeout"): bad_durations,
    ("ingress", "idleTimeout"): bad_durations,
    ("nodes", "user", 0): _corrupt(subdomains),
    ("protectData",): not_bool,
    ("spawnerCrd",): not_bool,
    ("deleteTimeout",): st.sampled_from(["infinity", "0s", "0m0s", "10", "-1m", "10 min", "", "1d", True]),
    ("releaseTimeout",): st.sampled_from(["infinity", "0s", "300", "-5m", "5 min", "", "1d", 300]),
    ("tenants", 0, "name"): _corrupt(dns_labels(20)),
    ("tenants", 0, "namespaceQuota"): st.one_of(st.integers(max_value=0), not_int),
    ("tenants", 0, "resourcePolicy"): st.text(max_size=10).filter(lambda p: p not in ("fixed", "profiles", "manual")),
}


def _set(config: dict[str, Any], path: tuple[str | int, ...], value: Any) -> None:
    """Set ``path`` in ``config``, creating the sections and first list entries it needs."""
    node: Any = config
    for part, following in itertools.pairwise(path):
        if isinstance(part, int):
            while len(node) <= part:
                node.append({"name": "mutated-group"} if path[0] == "tenants" else {} if isinstance(following, str)
                            else "")
        elif part not in node or node[part] is None:
            node[part] = [] if isinstance(following, int) else {}
        node = node[part]
    last = path[-1]
    if isinstance(last, int):
        while len(node) <= last:
            node.append(None)
    node[last] = value


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_configs(), st.sampled_from(sorted(MUTATIONS, key=str)), st.data())
def test_one_invalid_field_is_named(config: dict[str, Any], path: tuple[str | int, ...], data: st.DataObject) -> None:
    mutated = copy.deepcopy(config)
    if path[0] == "tenants":
        mutated["spawners"] = []  # a spawner naming the mutated group would be a second, right, error
    _set(mutated, path, data.draw(MUTATIONS[path], label=key_path(path)))
    with pytest.raises(ConfigError) as raised:
        parse(_raw(mutated))
    key = key_path(path)
    assert any(p.startswith(f"{key}: ") for p in raised.value.problems), f"{key} not named in:\n{raised.value}"


def test_every_top_level_key_is_mutated() -> None:
    from components.config import StackConfig

    mutated = {path[0] for path in MUTATIONS}
    # spawners: their cross-checks are exercised by the fixtures (tests/fixtures/config/error.spawners-*).
    assert set(StackConfig.model_fields) - mutated == {"spawners"}
