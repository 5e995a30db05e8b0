"""A tiny retrieval data set in MS MARCO layout with real signal: queries share words with their passage.

Every passage is a seeded sample of Debian-description words, every query a few
words of its passage plus one random word. A randomly initialised tiny BERT
starts near chance and learns the overlap within a few dozen steps.
"""

from __future__ import annotations

from pathlib import Path

from ance_core.selftest import WORDS, write_word_dataset


def write_tiny_dataset(folder: str | Path, **sizes) -> Path:
    return write_word_dataset(folder, WORDS, **sizes)
