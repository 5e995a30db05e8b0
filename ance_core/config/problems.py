"""pydantic's validation errors as our Problems: the field path a user wrote, what was expected, what was found."""

from __future__ import annotations

import json
from typing import Any

from ance_core.config.schema import SAFE_NAME, SEGMENT_KINDS, FieldConflict
from ance_core.errors import Problem


def _field_path(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif item in SEGMENT_KINDS or item in ("pairwise_nll", "infonce"):
            continue  # pydantic adds the union tag to the path; users never wrote it
        elif item in ("tuple[int, int]",) or str(item).startswith("function-"):
            continue
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or "(experiment)"


def _found(err: dict[str, Any]) -> str:
    value = err.get("input")
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def problem_from(err: dict[str, Any]) -> Problem:
    kind = err["type"]
    where = _field_path(tuple(err["loc"]))
    ctx = err.get("ctx") or {}
    if kind == "extra_forbidden":
        return Problem(where, "a known field (unknown fields are rejected; check the spelling)", f"unknown field {err['loc'][-1]!r}")
    if kind == "missing":
        return Problem(where, "a value (this field is required)", "nothing")
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        tags = ctx.get("expected_tags", "")
        return Problem(where + ".kind" if not where.endswith("kind") else where, f"kind one of {tags}", repr(ctx.get("tag", None)))
    if kind == "string_pattern_mismatch":
        if ctx.get("pattern") == SAFE_NAME:
            expected = "a safe name: letters, digits, '_', '.', '-', starting with a letter or digit, at most 64"
        else:
            expected = f"text matching {ctx.get('pattern')}"
        return Problem(where, expected, _found(err))
    if kind == "value_error":
        error = ctx.get("error", err["msg"])
        if isinstance(error, FieldConflict):  # reported at the field it names, not at the model that checked it
            where = error.field if where == "(experiment)" else f"{where}.{error.field}"
        expected, sep, found = str(error).partition(", found ")
        return Problem(where, expected, found if sep else None)
    message = err["msg"]
    for prefix in ("Input should be ", "Value should be "):
        if message.startswith(prefix):
            message = message[len(prefix):]
    return Problem(where, message, _found(err))
