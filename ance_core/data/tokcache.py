"""Token-id cache: a collection tokenized once, memory-mapped by every later encode.

Like ANCE's preprocessing, but ragged instead of padded to max length: all ids
of all rows in one flat `tokens.bin` (uint16 when the vocabulary fits, as BERT's
30522 and RoBERTa's 50265 do, else int32) plus `offsets.npy` (row i is
`tokens[offsets[i]:offsets[i+1]]`, special tokens included, truncated to
`max_len`). A refresh re-encodes with new weights but the same tokenizer, so it
reads this instead of re-tokenizing: 8.8M MS MARCO passages at 512 tokens cost
about 1.4 GB here against 9 GB padded.

A cache folder is keyed by (tokenizer fingerprint, max_len, content digest of the
file) and built with `atomic_dir`: a killed build leaves no folder that looks
complete. Concurrent builders (SLURM array tasks) serialise on a lock file, so
the collection is tokenized once.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from ance_core.data.readers import IdIndex, iter_collection
from ance_core.errors import InputError
from ance_core.io.atomic import atomic_dir, is_complete, write_json
from ance_core.io.lock import build_lock

log = logging.getLogger(__name__)

CACHE_FORMAT = 1
CHUNK_ROWS = 8192
# Texts longer than this many characters per token of max_len are cut at a space
# before tokenizing (see `_encode_ids`); 12 chars/token is ~3x English's average.
CUT_CHARS_PER_TOKEN = 12


# ---------------------------------------------------------------- identities


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


def content_digest(path: str | Path, memo_dir: str | Path | None = None) -> str:
    """sha256 of a file's bytes, memoised on disk by (real path, size, mtime).

    MS MARCO's collection is 3 GB: hashing it costs seconds, and every stage asks.
    """
    path = Path(path).resolve()
    stat = path.stat()
    stamp = {"path": str(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    memo = None
    if memo_dir is not None:
        memo = Path(memo_dir) / f"{hashlib.sha256(str(path).encode()).hexdigest()[:24]}.json"
        with contextlib.suppress(OSError, ValueError):
            saved = json.loads(memo.read_text())
            if {k: saved.get(k) for k in stamp} == stamp:
                return str(saved["sha256"])
    digest = _sha256(path)
    if memo is not None:
        with contextlib.suppress(OSError):  # a read-only cache only loses the memo
            write_json(memo, {**stamp, "sha256": digest})
    return digest


def _backend(tokenizer: Any):
    """The Rust tokenizer behind a HF fast tokenizer (or a `tokenizers.Tokenizer` itself)."""
    return getattr(tokenizer, "backend_tokenizer", tokenizer)


def tokenizer_fingerprint(tokenizer: Any) -> str:
    """Hash of the tokenizer's full definition, without its current truncation/padding state."""
    spec = json.loads(_backend(tokenizer).to_str())
    spec.pop("truncation", None)
    spec.pop("padding", None)
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()


def _pad_id(tokenizer: Any) -> int:
    pad = getattr(tokenizer, "pad_token_id", None)
    if pad is None:
        raise InputError.single(None, "tokenizer", "a pad token (pad_token_id)", "none")
    return int(pad)


def _vocab_size(tokenizer: Any) -> int:
    return int(_backend(tokenizer).get_vocab_size(with_added_tokens=True))


def token_dtype(vocab_size: int) -> np.dtype:
    return np.dtype(np.uint16) if vocab_size <= np.iinfo(np.uint16).max + 1 else np.dtype(np.int32)


# ---------------------------------------------------------------- tokenized rows


@dataclass
class Tokenized:
    """Ragged token ids: row i is tokens[offsets[i]:offsets[i+1]]; arrays may be memory-mapped."""

    tokens: np.ndarray
    offsets: np.ndarray
    pad_id: int
    max_len: int

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @cached_property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def row(self, i: int) -> np.ndarray:
        return self.tokens[self.offsets[i] : self.offsets[i + 1]]

    def padded(self, rows: Sequence[int] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(input_ids int64, attention_mask int64), padded to the longest of these rows only."""
        rows = np.asarray(rows)
        lengths = self.lengths[rows]
        width = int(lengths.max()) if len(rows) else 0
        ids = np.full((len(rows), width), self.pad_id, dtype=np.int64)
        for out_row, (start, n) in enumerate(zip(self.offsets[rows].tolist(), lengths.tolist())):
            ids[out_row, :n] = self.tokens[start : start + n]
        mask = (np.arange(width)[None, :] < lengths[:, None]).astype(np.int64)
        return ids, mask


def _encode_ids(backend, texts: list[str], max_len: int) -> list[list[int]]:
    """Token ids with special tokens, truncated to max_len, exactly as the HF tokenizer's call.

    Long texts are first cut at a space: with a word-splitting pre-tokenizer the ids of
    a prefix made of whole words are a prefix of the full text's ids, and a cut row
    whose ids still fill max_len is therefore exact. Rows that do not fill it are
    re-tokenized in full. The Debian corpus's longest 1% of texts otherwise take ~40%
    of the tokenizing time.
    """
    limit = max_len * CUT_CHARS_PER_TOKEN
    cut_rows: list[int] = []
    if backend.pre_tokenizer is not None:
        inputs = []
        for i, text in enumerate(texts):
            if len(text) > limit:
                space = text.rfind(" ", 0, limit)
                # rstrip: the prefix then ends on a whole word, whatever the run of spaces.
                if space > 0 and (prefix := text[:space].rstrip()):
                    text = prefix
                    cut_rows.append(i)
            inputs.append(text)
    else:
        inputs = texts
    encode = getattr(backend, "encode_batch_fast", backend.encode_batch)
    ids = [e.ids for e in encode(inputs)]
    redo = [i for i in cut_rows if len(ids[i]) < max_len]
    if redo:
        for i, enc in zip(redo, encode([texts[i] for i in redo])):
            ids[i] = enc.ids
    return ids


def _truncating_backend(tokenizer: Any, max_len: int):
    from tokenizers import Tokenizer

    backend = Tokenizer.from_str(_backend(tokenizer).to_str())  # a copy: the caller's state is left alone
    backend.enable_truncation(max_len)
    backend.no_padding()
    return backend


def tokenize_texts(tokenizer: Any, texts: Sequence[str], max_len: int) -> Tokenized:
    """In-memory `Tokenized` for a list of texts (queries, tests)."""
    backend = _truncating_backend(tokenizer, max_len)
    dtype = token_dtype(_vocab_size(tokenizer))
    offsets = [0]
    parts: list[np.ndarray] = []
    for start in range(0, len(texts), CHUNK_ROWS):
        for ids in _encode_ids(backend, list(texts[start : start + CHUNK_ROWS]), max_len):
            parts.append(np.asarray(ids, dtype=dtype))
            offsets.append(offsets[-1] + len(ids))
    tokens = np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)
    return Tokenized(tokens, np.asarray(offsets, dtype=np.int64), _pad_id(tokenizer), max_len)


# ---------------------------------------------------------------- the on-disk cache


@dataclass
class TokenCache(Tokenized):
    """A tokenized `id<TAB>text` file on disk: ids, memory-mapped tokens and offsets."""

    path: Path = Path()
    meta: dict[str, Any] | None = None

    @cached_property
    def ids(self) -> IdIndex:
        return IdIndex((self.path / "ids.txt").read_text(encoding="utf-8").split("\n")[:-1], self.path / "ids.txt")


def cache_key(tokenizer: Any, tsv_path: str | Path, max_len: int, memo_dir: str | Path | None = None) -> dict[str, Any]:
    return {
        "format": CACHE_FORMAT,
        "tokenizer": tokenizer_fingerprint(tokenizer),
        "content": content_digest(tsv_path, memo_dir),
        "max_len": int(max_len),
    }


def _cache_dir(cache_root: Path, key: dict[str, Any]) -> Path:
    return cache_root / "tokens" / f"{key['tokenizer'][:16]}-{key['content'][:16]}-L{key['max_len']}"


def open_token_cache(directory: str | Path, expected_key: dict[str, Any] | None = None) -> TokenCache | None:
    """The cache in `directory`, or None if it is absent, incomplete or for another key."""
    directory = Path(directory)
    if not is_complete(directory):
        return None
    try:
        meta = json.loads((directory / "meta.json").read_text())
    except (OSError, ValueError):
        return None
    if expected_key is not None and any(meta.get(k) != v for k, v in expected_key.items()):
        return None
    dtype = np.dtype(meta["dtype"])
    if (directory / "tokens.bin").stat().st_size != meta["n_tokens"] * dtype.itemsize:
        return None
    # np.memmap refuses empty files; an all-empty collection cannot reach here (readers reject it).
    tokens = np.memmap(directory / "tokens.bin", dtype=dtype, mode="r", shape=(meta["n_tokens"],))
    offsets = np.load(directory / "offsets.npy", mmap_mode="r")
    return TokenCache(tokens, offsets, int(meta["pad_id"]), int(meta["max_len"]), path=directory, meta=meta)


def token_cache(
    tokenizer: Any,
    tsv_path: str | Path,
    cache_root: str | Path,
    max_len: int,
    *,
    show_progress: bool = True,
) -> TokenCache:
    """The token cache of an `id<TAB>text` file (collection or queries): reused when present, else built."""
    cache_root = Path(cache_root)
    key = cache_key(tokenizer, tsv_path, max_len, memo_dir=cache_root / "digests")
    directory = _cache_dir(cache_root, key)
    if (found := open_token_cache(directory, key)) is not None:
        log.debug("token cache hit: %s", directory)
        return found
    with build_lock(directory):
        if (found := open_token_cache(directory, key)) is not None:  # another process built it meanwhile
            return found
        _build(tokenizer, Path(tsv_path), directory, key, show_progress)
    built = open_token_cache(directory, key)
    assert built is not None, directory
    return built


def _build(tokenizer: Any, tsv_path: Path, directory: Path, key: dict[str, Any], show_progress: bool) -> None:
    from ance_core.console.progress import progress

    max_len = key["max_len"]
    backend = _truncating_backend(tokenizer, max_len)
    dtype = token_dtype(_vocab_size(tokenizer))
    log.info("tokenizing %s (max length %d) into %s", tsv_path, max_len, directory)
    offsets = [np.zeros(1, dtype=np.int64)]
    ids: list[str] = []
    lines: list[int] = []
    n_tokens = 0
    with atomic_dir(directory) as tmp, open(tmp / "tokens.bin", "wb") as out, \
            progress(None, f"tokenizing {tsv_path.name}", "texts", enabled=show_progress) as advance:

        def flush(texts: list[str]) -> None:
            nonlocal n_tokens
            rows = _encode_ids(backend, texts, max_len)
            lengths = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
            flat = np.fromiter((t for r in rows for t in r), dtype=dtype, count=int(lengths.sum()))
            out.write(flat.tobytes())
            offsets.append(n_tokens + np.cumsum(lengths))
            n_tokens += int(lengths.sum())
            advance(len(texts))

        batch: list[str] = []
        for lineno, ident, text in iter_collection(tsv_path):
            if not ident:
                raise InputError.single(tsv_path, f"line {lineno}", "an id in column 1", "an empty id", raw=True)
            ids.append(ident)
            lines.append(lineno)
            batch.append(text)
            if len(batch) == CHUNK_ROWS:
                flush(batch)
                batch = []
        if batch:
            flush(batch)
        if not ids:
            raise InputError.single(tsv_path, "file", "at least one 'id<TAB>text' row", "an empty file", raw=True)
        IdIndex(ids, tsv_path, lines)  # duplicate ids are an input error, named by line
        out.flush()
        os.fsync(out.fileno())
        (tmp / "ids.txt").write_text("".join(f"{i}\n" for i in ids), encoding="utf-8")
        np.save(tmp / "offsets.npy", np.concatenate(offsets))
        write_json(tmp / "meta.json", {
            **key, "dtype": dtype.name, "n_rows": len(ids), "n_tokens": n_tokens, "pad_id": _pad_id(tokenizer),
            "source": str(tsv_path), "vocab_size": _vocab_size(tokenizer),
        })
