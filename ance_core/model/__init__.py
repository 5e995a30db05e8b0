"""The dual encoder and its loading/saving: 'minilm', HF folders and hub names, our checkpoints."""

from ance_core.model.encoder import AnceHead, DualEncoder, EncoderSpec, Kind, Tower, pool
from ance_core.model.loading import (
    MINILM,
    encoder_fingerprint,
    is_checkpoint,
    load_encoder,
    minilm_path,
    resolve_model_dir,
    save_encoder,
    write_encoder_files,
)

__all__ = [
    "MINILM",
    "AnceHead",
    "DualEncoder",
    "EncoderSpec",
    "Kind",
    "Tower",
    "encoder_fingerprint",
    "is_checkpoint",
    "load_encoder",
    "minilm_path",
    "pool",
    "resolve_model_dir",
    "save_encoder",
    "write_encoder_files",
]
