"""``dossier:releaseTimeout``: how long `pulumi up` waits for each Helm release, sent as the Release's timeout."""

from __future__ import annotations

from typing import Any

import pytest

from components.common import timeout_seconds
from offline import engine
from tests import stacks

RELEASE = "kubernetes:helm.sh/v3:Release"


def _timeouts(**extra: Any) -> dict[str, Any]:
    config = stacks.config("dev")
    config.update(extra)
    return {r.name: r.inputs.get("timeout") for r in engine.run(config).resources if r.type == RELEASE}


@pytest.mark.parametrize(("duration", "seconds"), [
    ("5m", 300), ("90s", 90), ("1h30m", 5400), ("2.5m", 150), ("1m30s", 90), ("1500ms", 2), ("1ms", 1),
])
def test_durations_become_whole_seconds_rounded_up(duration: str, seconds: int) -> None:
    assert timeout_seconds(duration) == seconds


@pytest.mark.parametrize("bad", ["", "5", "5 m", "m5", "1d", "5m-"])
def test_what_is_not_a_duration_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        timeout_seconds(bad)


def test_both_releases_get_the_configured_timeout() -> None:
    assert _timeouts(**{"dossier:releaseTimeout": "2m"}) == {"postgresql-release": 120, "jupyterhub-release": 120}


def test_the_default_is_the_providers_own() -> None:
    # The kubernetes provider (and Helm) wait 300 seconds when no timeout is given: unchanged by default.
    assert _timeouts() == {"postgresql-release": 300, "jupyterhub-release": 300}
