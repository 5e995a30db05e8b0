"""Which line of an experiment file a problem is about, so the YAML view can mark it.

Problems carry either a line ('line 3, column 5': the file is not valid YAML)
or a field path ('ance.segment.windows[1]', 'train.lr'). A path is followed
through the composed YAML nodes; where it leaves the file (a missing field, a
value that comes from an `extends:` base) the deepest key that is in the file
is marked instead.
"""

from __future__ import annotations

import re

import yaml

_LINE = re.compile(r"^line (\d+)")
_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def path_parts(where: str) -> list[str | int]:
    return [int(index) if index else name for name, index in _PART.findall(where)]


def line_of(text: str, where: str) -> int | None:
    """1-based line of `where` in `text`, or None when the file does not show it."""
    if match := _LINE.match(where):
        return int(match.group(1))
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None
    line = None
    for part in path_parts(where):
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            pair = next(((key, value) for key, value in node.value if getattr(key, "value", None) == part), None)
            if pair is None:
                break
            line, node = pair[0].start_mark.line + 1, pair[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line
