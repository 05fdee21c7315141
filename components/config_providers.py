"""The providers' settings in a stack: every ``kubernetes:``, ``keycloak:`` and ``random:`` key one its provider takes.

The program uses each provider's default instance, which the engine configures from the
stack's keys of the provider's namespace: each key becomes one of the provider's inputs
(pulumi/pulumi ``pkg/resource/deploy/default_providers.go``). A provider ignores an input it
does not know, so ``kubernetes:contxt`` (for ``context``, the key that chooses the cluster)
would pass silently and the update would go to the kubeconfig's current context. The known
keys are the inputs the installed provider SDK declares on its ``ProviderArgs`` (by their
Pulumi names), not a list kept here: upgrading a provider brings its new settings along.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from functools import cache

import pulumi_keycloak.provider
import pulumi_kubernetes.provider
import pulumi_random.provider
from pulumi import _types as pulumi_types

#: The providers the program creates resources with, by config namespace.
PROVIDER_ARGS: dict[str, type] = {
    "kubernetes": pulumi_kubernetes.provider.ProviderArgs,
    "keycloak": pulumi_keycloak.provider.ProviderArgs,
    "random": pulumi_random.provider.ProviderArgs,
}


@cache
def provider_keys(namespace: str) -> tuple[str, ...]:
    """The config keys (without the namespace) the provider of ``namespace`` takes, as its SDK declares them."""
    names = pulumi_types.input_type_py_to_pulumi_names(PROVIDER_ARGS[namespace])
    return tuple(sorted(names.values()))


def did_you_mean(typo: str, known: Iterable[str]) -> str:
    """``; did you mean 'x'?`` for the closest of ``known`` (case ignored), else the list of known keys."""
    known = list(known)
    by_lower = {k.lower(): k for k in known}
    hint = difflib.get_close_matches(typo.lower(), list(by_lower), n=1, cutoff=0.6)
    if hint:
        return f"; did you mean {by_lower[hint[0]]!r}?"
    return f"; known keys: {', '.join(known)}" if known else ""


def provider_problems(keys: Iterable[str]) -> list[str]:
    """One problem per key of a provider namespace the provider does not take (other namespaces are not ours)."""
    problems = []
    for full in sorted(keys):
        namespace, _, key = full.partition(":")
        if namespace not in PROVIDER_ARGS:
            continue
        known = provider_keys(namespace)
        if key in known:
            continue
        if not known:
            problems.append(f"{full}: unknown key; the {namespace} provider takes no settings")
        else:
            problems.append(f"{full}: unknown key of the {namespace} provider{did_you_mean(key, known)}")
    return problems
