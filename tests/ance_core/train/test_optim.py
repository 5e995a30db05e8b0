import pytest
import torch

from ance_core.config.schema import TrainConfig
from ance_core.train.optim import Lamb, build_optimizer, build_scheduler, param_groups


def reference_lamb_step(p, g, m, v, lr, b1=0.9, b2=0.999, eps=1e-8, wd=0.0):
    """cybertronai/pytorch-lamb (the copy in microsoft/ANCE), written out for one step."""
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    adam = m / (v.sqrt() + eps) + wd * p
    w_norm = p.norm().clamp(0, 10)
    a_norm = adam.norm()
    trust = 1.0 if (w_norm == 0 or a_norm == 0) else w_norm / a_norm
    return p - lr * trust * adam, m, v


def test_lamb_matches_the_reference_over_three_steps():
    torch.manual_seed(0)
    p = torch.nn.Parameter(torch.randn(5, 3))
    ref, m, v = p.detach().clone(), torch.zeros(5, 3), torch.zeros(5, 3)
    opt = Lamb([p], lr=0.01, weight_decay=0.01)
    for _ in range(3):
        g = torch.randn(5, 3)
        p.grad = g.clone()
        opt.step()
        ref, m, v = reference_lamb_step(ref, g, m, v, 0.01, wd=0.01)
    torch.testing.assert_close(p.detach(), ref)


def test_lamb_trust_ratio_clamps_weight_norm_and_handles_zero_weights():
    big = torch.nn.Parameter(torch.full((4,), 100.0))  # ||w|| = 200 -> clamped to 10
    zero = torch.nn.Parameter(torch.zeros(4))
    opt = Lamb([big, zero], lr=0.1)
    big.grad = torch.ones(4)
    zero.grad = torch.ones(4)
    opt.step()
    # adam step = 1/(1+eps)-ish everywhere (no debiasing: m=0.1, sqrt(v)=sqrt(0.001)); norm = 2*that
    step = 0.1 / (0.001**0.5 + 1e-8)
    torch.testing.assert_close(big.detach(), torch.full((4,), 100.0) - 0.1 * (10 / (2 * step)) * step)
    torch.testing.assert_close(zero.detach(), torch.full((4,), -0.1 * step))  # trust ratio 1


def test_lamb_minimises_a_quadratic():
    torch.manual_seed(0)
    target = torch.randn(10)
    p = torch.nn.Parameter(torch.randn(10))
    opt = Lamb([p], lr=0.05)
    start = (p - target).pow(2).sum().item()
    for _ in range(300):
        opt.zero_grad()
        (p - target).pow(2).sum().backward()
        opt.step()
    assert (p - target).pow(2).sum().item() < 0.01 * start


def test_no_weight_decay_on_biases_and_layernorm():
    class Block(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.dense = torch.nn.Linear(3, 3)
            self.LayerNorm = torch.nn.LayerNorm(3)

    model = Block()
    decay, no_decay = param_groups(model, 0.1)
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert [id(p) for p in decay["params"]] == [id(model.dense.weight)]
    assert {id(p) for p in no_decay["params"]} == {id(model.dense.bias), id(model.LayerNorm.weight), id(model.LayerNorm.bias)}


@pytest.mark.parametrize("name,cls", [("lamb", Lamb), ("adamw", torch.optim.AdamW)])
def test_build_optimizer(name, cls):
    opt = build_optimizer(torch.nn.Linear(2, 2), TrainConfig(optimizer=name), lr=1e-3)
    assert isinstance(opt, cls) and opt.param_groups[0]["lr"] == 1e-3


def reference_multiplier(step: int, warmup: int, total: int, decay: bool) -> float:
    """The peak-lr multiplier ANCE's schedule gives at a step (HF get_linear_schedule_with_warmup), written out."""
    if step < warmup:
        return step / warmup
    if not decay:
        return 1.0
    return max(0.0, (total - step) / max(1, total - warmup))


def lrs(scheduler: torch.optim.lr_scheduler.LRScheduler, steps: int) -> list[float]:
    out = []
    for _ in range(steps):
        out.append(scheduler.optimizer.param_groups[0]["lr"])
        scheduler.optimizer.step()
        scheduler.step()
    return out


@pytest.mark.parametrize("schedule", ["linear", "constant"])
@pytest.mark.parametrize("warmup,total", [(0, 10), (2, 10), (4, 12), (5, 5), (3, 1000), (7, 3)])
def test_schedule_gives_the_reference_lr_at_every_step(schedule, warmup, total):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=3e-4)
    got = lrs(build_scheduler(opt, schedule, warmup, total), total + 5)
    assert got == [3e-4 * reference_multiplier(i, warmup, total, schedule == "linear") for i in range(total + 5)]


def test_linear_schedule_warmup_then_decay():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    got = lrs(build_scheduler(opt, "linear", 4, 12), 21)
    assert got[:5] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert got[8] == pytest.approx(0.5) and got[12] == 0.0 and got[20] == 0.0


def test_a_checkpoint_of_the_hand_written_schedule_resumes_the_same():
    """Checkpoints written before the schedule came from transformers hold the old lambda's fields."""
    p = torch.nn.Parameter(torch.zeros(1))
    old_state = {"base_lrs": [1.0], "last_epoch": 5, "_step_count": 6, "_is_initial": False,
                 "_get_lr_called_within_step": False, "_last_lr": [0.625],
                 "lr_lambdas": [{"warmup_steps": 2, "total_steps": 10, "decay": True}]}
    opt = torch.optim.SGD([p], lr=1.0)
    sched = build_scheduler(opt, "linear", 2, 10)
    sched.load_state_dict(old_state)
    for group in opt.param_groups:
        group["lr"] = old_state["_last_lr"][0]  # the optimizer's state carries it in a real resume
    assert lrs(sched, 6) == [reference_multiplier(step, 2, 10, True) for step in range(5, 11)]


def test_scheduler_state_round_trip():
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=1.0)
    sched = build_scheduler(opt, "linear", 2, 10)
    for _ in range(5):
        opt.step()
        sched.step()
    state = sched.state_dict()
    opt2 = torch.optim.SGD([p], lr=1.0)
    sched2 = build_scheduler(opt2, "linear", 2, 10)
    sched2.load_state_dict(state)
    opt2.load_state_dict(opt.state_dict())
    opt.step(); sched.step(); opt2.step(); sched2.step()
    assert opt.param_groups[0]["lr"] == opt2.param_groups[0]["lr"] == pytest.approx(0.5)
