"""Tiny BERT/RoBERTa models with tokenizers trained on the fly: no downloads, ~1 s to build.

`build_tiny_model(folder, arch)` writes an ordinary HF model folder (config.json,
model.safetensors, tokenizer.json, tokenizer_config.json) that `load_encoder`
reads like any local model. The weights come from a fixed seed, so two builds
are byte-identical. The texts below double as a miniature corpus.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

# Debian-flavoured sentences of varied length: enough for the tokenizers to learn
# sub-words, and the length spread that length-sorted batching needs to be tested.
TINY_TEXTS = [
    "command line tool to manage debian packages",
    "library for parsing json documents in c",
    "python bindings for the gtk widget toolkit",
    "fast incremental file transfer over ssh with compression and partial transfers",
    "text editor",
    "documentation for the rust programming language compiler and standard library",
    "fonts with wide unicode coverage for terminals and desktop environments",
    "network time protocol daemon keeping the system clock in sync with servers",
    "development files for the zlib compression library",
    "a small shell",
    "tools to create and check filesystems on block devices such as disks and partitions",
    "plugin for the media player adding support for more audio formats",
    "perl module to read and write configuration files in the ini format",
    "metapackage depending on the default desktop environment and its recommended applications",
    "transitional dummy package",
    "utilities for monitoring processes memory usage and open files of running programs",
]

_SPECIALS = {
    "bert": dict(unk="[UNK]", pad="[PAD]", cls="[CLS]", sep="[SEP]", mask="[MASK]"),
    "roberta": dict(unk="<unk>", pad="<pad>", cls="<s>", sep="</s>", mask="<mask>"),
}


def _train_tokenizer(arch: str, vocab_size: int):
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    sp = _SPECIALS[arch]
    if arch == "bert":
        tok = Tokenizer(models.WordPiece(unk_token=sp["unk"]))
        tok.normalizer = normalizers.BertNormalizer(lowercase=True)
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tok.decoder = decoders.WordPiece()
        order = [sp["pad"], sp["unk"], sp["cls"], sp["sep"], sp["mask"]]  # pad id 0, as BERT
        trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=order)
    else:
        tok = Tokenizer(models.BPE(unk_token=sp["unk"]))
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        order = [sp["cls"], sp["pad"], sp["sep"], sp["unk"], sp["mask"]]  # <s>=0 <pad>=1 </s>=2, as RoBERTa
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size, special_tokens=order, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
        )
    tok.train_from_iterator(TINY_TEXTS * 4, trainer)
    cls_id, sep_id = tok.token_to_id(sp["cls"]), tok.token_to_id(sp["sep"])
    if arch == "bert":
        tok.post_processor = processors.TemplateProcessing(
            single=f"{sp['cls']} $A {sp['sep']}", special_tokens=[(sp["cls"], cls_id), (sp["sep"], sep_id)]
        )
    else:
        tok.post_processor = processors.RobertaProcessing((sp["sep"], sep_id), (sp["cls"], cls_id))
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token=sp["unk"], pad_token=sp["pad"], cls_token=sp["cls"], sep_token=sp["sep"], mask_token=sp["mask"],
        model_max_length=512,
    )


def build_tiny_model(
    folder: str | Path,
    arch: Literal["bert", "roberta"] = "bert",
    *,
    seed: int = 0,
    vocab_size: int = 400,
    hidden: int = 32,
    layers: int = 2,
    heads: int = 2,
    max_positions: int = 130,
) -> Path:
    """Write a randomly initialised (seeded) tiny model + trained tokenizer to `folder`; returns it."""
    import torch
    from transformers import BertConfig, BertModel, RobertaConfig, RobertaModel

    folder = Path(folder)
    tokenizer = _train_tokenizer(arch, vocab_size)
    common = dict(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=hidden * 2,
        max_position_embeddings=max_positions,
        pad_token_id=tokenizer.pad_token_id,
        hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1,
    )
    torch.manual_seed(seed)
    if arch == "bert":
        model = BertModel(BertConfig(**common))
    else:
        model = RobertaModel(
            RobertaConfig(**common, bos_token_id=tokenizer.cls_token_id, eos_token_id=tokenizer.sep_token_id)
        )
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # "Writing model shards" bars clutter test output
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder


def write_tiny_collection(folder: str | Path, texts: list[str] | None = None, gz: bool = False) -> Path:
    """`collection.tsv[.gz]` with pids 100, 101, ... (non-contiguous ids, as in real corpora)."""
    import gzip

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rows = "".join(f"{100 + i}\t{t}\n" for i, t in enumerate(texts if texts is not None else TINY_TEXTS))
    path = folder / ("collection.tsv.gz" if gz else "collection.tsv")
    if gz:
        with gzip.open(path, "wt", encoding="utf-8") as handle:
            handle.write(rows)
    else:
        path.write_text(rows, encoding="utf-8")
    return path
