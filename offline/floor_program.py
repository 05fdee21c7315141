"""The SDK floor as a Pulumi program: it registers what ``offline.floor.run_floor`` recorded, nothing else."""

from offline import floor

floor.replay(floor.PENDING)
