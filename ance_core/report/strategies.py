"""Strategy labels: one spelling per strategy, whatever file or experiment it came from.

The original study writes "top20+bottom20"; experiment names cannot contain
"+" (they end up in paths and job names), so ours say "top20-bottom20". Both
become the study's label so that legacy and new runs share a table row.
"""

from __future__ import annotations

import re
from pathlib import Path

# Titles of studies whose runs-root name says little to a reader.
STUDY_TITLES = {"legacy": "original study"}

# The study's four strategies, in the order its paper discusses them.
STUDY_ORDER: tuple[str, ...] = ("top20", "top20+bottom20", "random20", "bottom20")

# A segment token: a selection word and a count ("top20", "bottom20", "random20", "simans20").
_SEGMENT_TOKEN = re.compile(r"^[a-z]+\d+$")
_JOINERS = re.compile(r"[-+_]")
_NUMBERS = re.compile(r"(\d+)")

# ANN data folder suffix of the original study's runs -> strategy. The log file
# names end with the folder name: `...-ann_data_4_bottom_neg.out.gz`.
LEGACY_SUFFIXES: dict[str, str] = {
    "": "top20",
    "_bottom_neg": "top20+bottom20",
    "_random": "random20",
    "_bottom_neg_only": "bottom20",
}
_LEGACY_NAME = re.compile(r"(?P<folder>ann_data_\d+(?P<suffix>_bottom_neg_only|_bottom_neg|_random)?)$")
_LOG_EXTENSIONS = (".gz", ".out", ".log", ".txt")


def normalize_strategy(label: str) -> str:
    """'top20-bottom20', 'top20_bottom20', 'Top20+Bottom20' -> 'top20+bottom20'; other labels unchanged."""
    cleaned = label.strip()
    parts = _JOINERS.split(cleaned.lower())
    if len(parts) >= 2 and all(_SEGMENT_TOKEN.match(part) for part in parts):
        return "+".join(parts)
    if _SEGMENT_TOKEN.match(cleaned.lower()):
        return cleaned.lower()
    return cleaned


def strategy_sort_key(label: str) -> tuple[int, tuple[str | int, ...]]:
    """The study's strategies first, in its order; then everything else alphabetically, numbers by value
    (a sweep's rank20-40 before rank100-120)."""
    try:
        return (STUDY_ORDER.index(label), ())
    except ValueError:
        return (len(STUDY_ORDER), tuple(int(part) if part.isdigit() else part for part in _NUMBERS.split(label)))


def log_stem(path: str | Path) -> str:
    """A log's name without `.out`, `.gz`, ... (`x-ann_data_4.out.gz` -> `x-ann_data_4`)."""
    name = Path(path).name
    while True:
        for extension in _LOG_EXTENSIONS:
            if name.endswith(extension):
                name = name[: -len(extension)]
                break
        else:
            return name


def legacy_strategy(path: str | Path) -> str | None:
    """The strategy of an original-study log from its name, or None if the name does not say."""
    match = _LEGACY_NAME.search(log_stem(path))
    return LEGACY_SUFFIXES[match.group("suffix") or ""] if match else None


def legacy_folder(path: str | Path) -> str | None:
    """The ANN data folder named in a legacy log's file name (the study's experiment id)."""
    match = _LEGACY_NAME.search(log_stem(path))
    return match.group("folder") if match else None


def study_title(study: str) -> str:
    return STUDY_TITLES.get(study, f"study '{study}'")
