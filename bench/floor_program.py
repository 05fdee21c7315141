"""The SDK floor as a Pulumi program: it registers what ``bench.floor.run_floor`` recorded, nothing else."""

from bench import floor

floor.replay(floor.PENDING)
