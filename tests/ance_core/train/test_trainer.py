import pytest
import torch

from ance_core.config.schema import TrainConfig
from ance_core.errors import InputError
from ance_core.model import load_encoder
from ance_core.train.distributed import DistInfo
from ance_core.train.trainer import Trainer, check_precision


def test_half_precision_needs_a_gpu():
    check_precision("fp32", torch.device("cpu"))
    for precision in ("bf16", "fp16"):
        with pytest.raises(InputError, match="train.precision"):
            check_precision(precision, torch.device("cpu"))


@pytest.mark.gpu
@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_autocast_training_steps_on_gpu(tiny_model, precision):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU here")
    from ance_core.train.data import Batch

    device = torch.device("cuda", 0)
    check_precision(precision, device)
    encoder = load_encoder(str(tiny_model))
    trainer = Trainer(encoder, TrainConfig(precision=precision, batch_size=4), lr=1e-3, total_steps=10, warmup_steps=0,
                      dist=DistInfo(), device=device)
    q = encoder.tokenize(["text editor", "chess game", "audio player", "disk tool"], "query")
    p = encoder.tokenize(["a text editor for terminals", "chess for two players", "plays audio files", "partition disks",
                          "fonts", "mail client", "web browser", "kernel firmware"], "passage")
    batch = Batch(q, p, size=4, negatives=1)
    losses = [trainer.train_step([batch]) for _ in range(5)]
    assert all(torch.isfinite(torch.tensor(losses))) and losses[-1] < losses[0]
    assert (trainer.scaler is not None) == (precision == "fp16")
    assert all(p.dtype == torch.float32 for p in encoder.parameters())  # autocast, not a half-precision copy
