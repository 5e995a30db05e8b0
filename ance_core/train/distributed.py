"""torchrun / DDP plumbing: who am I, which device, and small collectives that are no-ops alone.

`torchrun --nproc_per_node G [--nnodes N --rdzv-endpoint HOST:PORT]` sets RANK,
WORLD_SIZE and LOCAL_RANK; a plain `ance run` is a world of one. NCCL on GPUs,
gloo on CPU (tests run two CPU ranks).
"""

from __future__ import annotations

import datetime
import io
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

# A sync refresh keeps the other ranks waiting at a barrier: hours on MS MARCO.
BARRIER_TIMEOUT = datetime.timedelta(hours=6)


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1


def init_distributed() -> DistInfo:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend, timeout=BARRIER_TIMEOUT)
    return DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def device_for(info: DistInfo) -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda", info.local_rank)
    return torch.device("cpu")


def barrier(info: DistInfo) -> None:
    if info.active:
        dist.barrier()


def mean(info: DistInfo, value: float) -> float:
    if not info.active:
        return value
    tensor = torch.tensor([value], dtype=torch.float64, device=_collective_device())
    dist.all_reduce(tensor)
    return float(tensor.item()) / info.world


def any_true(info: DistInfo, flag: bool) -> bool:
    if not info.active:
        return flag
    tensor = torch.tensor([1 if flag else 0], device=_collective_device())
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return bool(tensor.item())


def broadcast(info: DistInfo, obj: Any) -> Any:
    """Rank 0's `obj` on every rank."""
    if not info.active:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather(info: DistInfo, obj: Any) -> list[Any]:
    """Every rank's `obj` (tensors allowed), in rank order, on every rank."""
    if not info.active:
        return [obj]
    # As torch.save bytes: all_gather_object cannot unpickle tensors' storages (torch 2.13, gloo).
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    out: list[Any] = [None] * info.world
    dist.all_gather_object(out, buffer.getvalue())
    return [torch.load(io.BytesIO(blob), weights_only=True) for blob in out]


def _collective_device() -> torch.device:
    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")


def shutdown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()
