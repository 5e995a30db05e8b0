"""Optimizers: AdamW (torch) or LAMB as ANCE used it (cybertronai/pytorch-lamb, copied into ANCE),
and the learning-rate schedule (transformers').

LAMB (You et al., "Large Batch Optimization for Deep Learning") scales each
parameter tensor's Adam step by a trust ratio ||w|| / ||adam_step||, with ||w||
clamped to [0, 10]. Like ANCE's copy it applies no bias correction ("paper v3
does not use debiasing"); `bias_correction=True` gives the later variant.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import get_scheduler

from ance_core.config.schema import TrainConfig

NO_DECAY = ("bias", "LayerNorm.weight", "layer_norm.weight", "norm.weight")


class Lamb(torch.optim.Optimizer):
    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        bias_correction: bool = False,
        max_weight_norm: float = 10.0,
    ):
        if lr <= 0 or eps <= 0 or weight_decay < 0 or not all(0 <= b < 1 for b in betas):
            raise ValueError(f"Lamb: lr > 0, eps > 0, weight_decay >= 0, betas in [0, 1); got {lr}, {eps}, {weight_decay}, {betas}")
        defaults = dict(
            lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
            bias_correction=bias_correction, max_weight_norm=max_weight_norm,
        )
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad
                if grad.is_sparse:
                    raise RuntimeError("Lamb does not support sparse gradients")
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                state["step"] += 1
                exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
                exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                if group["bias_correction"]:
                    m_hat = exp_avg / (1 - beta1 ** state["step"])
                    v_hat = exp_avg_sq / (1 - beta2 ** state["step"])
                else:
                    m_hat, v_hat = exp_avg, exp_avg_sq
                adam_step = m_hat / v_hat.sqrt().add(group["eps"])
                if group["weight_decay"]:
                    adam_step.add_(p, alpha=group["weight_decay"])
                weight_norm = p.norm().clamp(0, group["max_weight_norm"])
                adam_norm = adam_step.norm()
                # trust ratio 1 where either norm is zero (fresh zero-initialised weights, zero steps)
                trust_ratio = torch.where(
                    (weight_norm > 0) & (adam_norm > 0), weight_norm / adam_norm, torch.ones_like(weight_norm)
                )
                p.add_(adam_step * trust_ratio, alpha=-group["lr"])
        return loss


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Weight decay on matrices only, never on biases and LayerNorm weights (ANCE, HF)."""
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        (no_decay if any(key in name for key in NO_DECAY) else decay).append(param)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def build_optimizer(model: nn.Module, config: TrainConfig, lr: float) -> torch.optim.Optimizer:
    groups = param_groups(model, config.weight_decay)
    if config.optimizer == "lamb":
        return Lamb(groups, lr=lr, eps=1e-8)
    return torch.optim.AdamW(groups, lr=lr, eps=1e-8, foreach=False)


# train.schedule -> transformers' scheduler name; "linear" is get_linear_schedule_with_warmup, as ANCE ran
# it (step 0 of a warm-up at lr 0), "constant" stays at the peak after the warm-up.
SCHEDULES = {"linear": "linear", "constant": "constant_with_warmup"}


def build_scheduler(
    optimizer: torch.optim.Optimizer, schedule: str, warmup_steps: int, total_steps: int
) -> torch.optim.lr_scheduler.LambdaLR:
    return get_scheduler(SCHEDULES[schedule], optimizer, num_warmup_steps=warmup_steps, num_training_steps=total_steps)
