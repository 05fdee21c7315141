"""Config file of the e2e hub (``jupyterhub -f``): the chart's configuration of the run folder."""

import os
from pathlib import Path

from chart_config import apply

apply(get_config(), Path(os.environ["DOSSIER_E2E_HUB_RUN"]))  # type: ignore[name-defined]  # noqa: F821
