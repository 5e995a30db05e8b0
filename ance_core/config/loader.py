"""Load experiment YAMLs: `yaml.safe_load`, `extends:` inheritance, overrides, clear errors.

A bad file yields one `InputError` that lists every problem with its field
path, what was expected and what was found.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ance_core.config.problems import problem_from
from ance_core.config.schema import Experiment
from ance_core.config.sweep import expand_sweep, is_sweep
from ance_core.errors import InputError, Problem

_MAX_EXTENDS_DEPTH = 16


def load_experiments(path: str | Path, overrides: list[str] | None = None,
                     site: dict[str, Any] | None = None) -> list[Experiment]:
    """Read, merge (`extends`), lay the site's resources over it (ance_core.config.site), override, validate:
    one experiment, or one per window of a sweep file (ance_core.config.sweep)."""
    path = Path(path)
    data = load_experiment_data(path)
    if site:
        data = deep_merge(data, {"resources": site})
    if overrides:
        data = apply_overrides(data, overrides, source=path)
    if not is_sweep(data):
        return [validate_experiment(data, source=path)]
    found = []
    for one in expand_sweep(data, source=path):
        try:
            found.append(validate_experiment(one, source=path))
        except InputError as exc:  # said once, for the window it failed on (they share everything else)
            window = "[{}, {})".format(*one["sweep_point"]["window"])
            raise InputError(path, [Problem(f"{p.where} (sweep window {window})", p.expected, p.found)
                                    for p in exc.problems]) from None
    return found


def load_experiment(path: str | Path, overrides: list[str] | None = None,
                    site: dict[str, Any] | None = None) -> Experiment:
    """One experiment: as `load_experiments`, for a file that is not a sweep."""
    found = load_experiments(path, overrides, site)
    if len(found) != 1:
        raise InputError.single(path, "sweep", "a single experiment here (a sweep is submitted with ance-launch, "
                                "which expands it into its experiments)", f"a sweep of {len(found)} windows")
    return found[0]


def validate_experiment(data: dict[str, Any], source: str | Path | None = None) -> Experiment:
    try:
        return Experiment.model_validate(data)
    except ValidationError as exc:
        raise InputError(source, [problem_from(err) for err in exc.errors()]) from None


def load_experiment_data(path: str | Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The merged mapping of a file and everything it extends (lists replace, mappings merge)."""
    path = Path(path)
    resolved = path.resolve()
    if resolved in _seen:
        chain = " -> ".join(str(p) for p in (*_seen, resolved))
        raise InputError.single(path, "extends", "no cycle", chain, raw=True)
    if len(_seen) > _MAX_EXTENDS_DEPTH:
        raise InputError.single(path, "extends", f"at most {_MAX_EXTENDS_DEPTH} levels", len(_seen))
    data = read_yaml_mapping(path)
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str) or not parent.strip():
        raise InputError.single(path, "extends", "a path to another experiment file", parent)
    parent_path = (path.parent / parent) if not Path(parent).is_absolute() else Path(parent)
    if not _is_file(parent_path):
        raise InputError.single(path, "extends", "an existing file (relative to this one)", _shorten(str(parent_path)), raw=True)
    base = load_experiment_data(parent_path, (*_seen, resolved))
    return deep_merge(base, data)


def _is_file(path: Path) -> bool:
    """Path.is_file, but a name too long for the OS (or with NUL bytes) is just not a file."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def _shorten(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def read_yaml_mapping(path: Path) -> dict[str, Any]:
    if not _is_file(path):
        raise InputError.single(path, "file", "an existing experiment YAML file", "no such file")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError.single(path, "file", "a readable experiment YAML file", exc.strerror or str(exc), raw=True) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError.single(path, f"line {line}", "UTF-8 text", f"byte 0x{raw[exc.start]:02x}", raw=True) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "document"
        problem = getattr(exc, "problem", None) or str(exc)
        raise InputError.single(path, where, "valid YAML", problem, raw=True) from None
    except RecursionError:
        # PyYAML builds nested collections recursively; a file nested thousands deep is not an experiment.
        raise InputError.single(path, "document", "valid YAML of ordinary depth", "nesting too deep to read", raw=True) from None
    if data is None:
        raise InputError.single(path, "document", "a mapping of experiment fields", "an empty file", raw=True)
    if not isinstance(data, dict):
        raise InputError.single(path, "document", "a mapping of experiment fields", type(data).__name__, raw=True)
    return data


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict) and "kind" not in value:
            merged[key] = deep_merge(merged[key], value)
        else:
            # A new `kind` replaces the whole block: fields of another kind would be unknown there.
            merged[key] = copy.deepcopy(value)
    return merged


def apply_overrides(data: dict[str, Any], overrides: list[str], source: str | Path | None = None) -> dict[str, Any]:
    """Apply `a.b.c=value` overrides (value parsed as YAML) to a merged mapping."""
    data = copy.deepcopy(data)
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key or any(not part for part in key.split(".")):
            raise InputError.single(source or "--set", "--set", "FIELD.PATH=VALUE", item)
        try:
            parsed = yaml.safe_load(value) if value else ""
        except yaml.YAMLError:
            parsed = value
        node = data
        parts = key.split(".")
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        node[parts[-1]] = parsed
    return data
