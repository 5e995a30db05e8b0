"""Learning-rate schedules: linear warm-up, then linear decay to 0 at `total_steps` or flat."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class LinearSchedule:
    """Multiplier of the peak lr at a step: HF's get_linear_schedule_with_warmup (what ANCE used)
    when `decay` is on, so step 0 of a warm-up runs at lr 0 as it did there."""

    warmup_steps: int
    total_steps: int
    decay: bool = True

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return step / self.warmup_steps
        if not self.decay:
            return 1.0
        remaining = self.total_steps - step
        return max(0.0, remaining / max(1, self.total_steps - self.warmup_steps))


def build_scheduler(
    optimizer: torch.optim.Optimizer, schedule: str, warmup_steps: int, total_steps: int
) -> torch.optim.lr_scheduler.LambdaLR:
    return torch.optim.lr_scheduler.LambdaLR(optimizer, LinearSchedule(warmup_steps, total_steps, schedule == "linear"))
