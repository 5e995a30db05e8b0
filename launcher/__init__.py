"""launcher: experiment discovery, SLURM batch-script rendering, submission, status, `ance-launch`.

Imports only `ance_core.config` (the experiment schema) and `ance_core.errors`
from the library; the stages run in the jobs, never in this process.
"""
