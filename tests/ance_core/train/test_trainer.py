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


def test_passages_in_length_sorted_chunks_give_each_row_its_own_embedding(tiny_model):
    """encode_by_length cuts padding, never changes a row's vector or its place, and gradients reach the weights."""
    from ance_core.train.trainer import PairForward, passage_chunks

    encoder = load_encoder(str(tiny_model))
    encoder.eval()  # dropout off: the same row must give the same vector
    texts = ["fonts", "a text editor for terminals with syntax highlighting and many plugins for mail and news",
             "chess", "plays audio files from the command line", "mail", "kernel firmware for wireless cards",
             "disk", "web browser"] * 2
    batch = encoder.tokenize(texts, "passage")
    assert passage_chunks(len(texts), torch.device("cpu")) == 4
    chunked = PairForward(encoder).encode_by_length(batch["input_ids"], batch["attention_mask"])
    whole = encoder.encode(batch["input_ids"], batch["attention_mask"], "passage")
    assert chunked.shape == whole.shape
    assert torch.allclose(chunked, whole, atol=1e-5)
    chunked.sum().backward()
    assert all(p.grad is not None for p in encoder.parameters() if p.requires_grad)


def test_few_passages_or_a_gpu_batch_stay_one_forward():
    from ance_core.train.trainer import passage_chunks

    assert passage_chunks(3, torch.device("cpu")) == 1
    assert passage_chunks(1000, torch.device("cpu")) == 4
    assert passage_chunks(64, torch.device("cuda")) == 1
    assert passage_chunks(512, torch.device("cuda")) == 4
