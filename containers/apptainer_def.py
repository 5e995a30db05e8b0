"""A small reader of Apptainer definition files, following Apptainer's own parser.

It mirrors pkg/build/types/parser/deffile.go and internal/pkg/build/args
(Apptainer 1.2+) closely enough to test ance.def without apptainer and to
rehearse its build (containers/rehearse.py):

* a line whose first word starts with `%` opens a section (anywhere, even
  indented, which is why a stray `%` line in a script is a bug);
* the header is `Key: value` lines, `#` comments allowed;
* `{{ NAME }}` is replaced by a --build-arg value or the `%arguments` default,
  except on commented lines; an undefined one is a build error;
* `%files` lines are `src [dst]`, `%labels` lines `key value`.

spython's recipe parser drops the %app* sections, hence this.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

SECTIONS = {
    "help", "setup", "files", "labels", "environment", "pre", "post",
    "runscript", "test", "startscript", "arguments",
}
APP_SECTIONS = {"appinstall", "applabels", "appfiles", "appenv", "apptest", "apphelp", "apprun", "appstart"}
HEADERS = {
    "bootstrap", "from", "includecmd", "mirrorurl", "updateurl", "osversion", "include", "library",
    "registry", "namespace", "stage", "product", "user", "regcode", "productpgp", "registerurl",
    "modules", "fingerprints", "confurl", "setopt",
}
BUILD_ARG = re.compile(r"{{\s*(\w+)\s*}}")
COMMENTED = re.compile(r"\s*[#][^!]\s*.*")  # Apptainer's test for "this {{ }} is in a comment"


class DefinitionError(ValueError):
    """What `apptainer build` would refuse."""


@dataclass
class Definition:
    header: dict[str, str] = field(default_factory=dict)
    sections: dict[str, str] = field(default_factory=dict)  # "post", "apprun mine", ...
    section_args: dict[str, str] = field(default_factory=dict)  # "%post -c /bin/bash" -> {"post": "-c /bin/bash"}
    files: list[tuple[str, str]] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    arguments: dict[str, str] = field(default_factory=dict)

    def apps(self) -> dict[str, dict[str, str]]:
        """{app name: {"apprun": script, "apphelp": text, ...}}"""
        apps: dict[str, dict[str, str]] = {}
        for key, body in self.sections.items():
            kind, _, name = key.partition(" ")
            if kind in APP_SECTIONS:
                apps.setdefault(name, {})[kind] = body
        return apps


def _split(text: str) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """Header lines, then (section line, body lines) in file order."""
    header: list[str] = []
    sections: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        words = line.split()
        if words and words[0].startswith("%"):
            sections.append((line.strip(), []))
        elif sections:
            sections[-1][1].append(line)
        else:
            header.append(line)
    return header, sections


def _parse_header(lines: list[str]) -> dict[str, str]:
    header: dict[str, str] = {}
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.split("#")[0].partition(":")
        if not sep:
            raise DefinitionError(f"header key {key!r} has no value")
        key = key.strip().lower()
        if key not in HEADERS:
            raise DefinitionError(f"invalid header keyword {key!r}")
        header[key] = value.strip()
    return header


def _defaults(sections: list[tuple[str, list[str]]]) -> dict[str, str]:
    defaults: dict[str, str] = {}
    for title, body in sections:
        if title.split()[0].lower() != "%arguments":
            continue
        for line in body:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                key, _, value = line.partition("=")
                defaults[key.strip()] = value.strip()
    return defaults


def substitute(text: str, build_args: dict[str, str], defaults: dict[str, str]) -> str:
    out, last = [], 0
    for match in BUILD_ARG.finditer(text):
        line_start = text.rfind("\n", 0, match.start()) + 1
        if COMMENTED.match(text[line_start:match.start()]):
            continue
        name = match.group(1)
        if name in build_args:
            value = build_args[name]
        elif name in defaults:
            value = defaults[name]
        else:
            raise DefinitionError(f"build var {name} is not defined through --build-arg or %arguments")
        out += [text[last:match.start()], value]
        last = match.end()
    return "".join(out + [text[last:]])


def parse(text: str, build_args: dict[str, str] | None = None) -> Definition:
    """Parse after build-argument substitution, as `apptainer build` does."""
    defaults = _defaults(_split(text)[1])
    header_lines, raw_sections = _split(substitute(text, build_args or {}, defaults))
    definition = Definition(header=_parse_header(header_lines), arguments=defaults)
    for title, body in raw_sections:
        words = title.lstrip("%").split()
        kind = words[0].lower()
        if kind in APP_SECTIONS:
            if len(words) < 2:
                raise DefinitionError(f"%{kind} without an app name")
            key, args = f"{kind} {words[1]}", words[2:]
        elif kind in SECTIONS:
            key, args = kind, words[1:]
        else:
            raise DefinitionError(f"invalid section %{kind}")
        if args:
            definition.section_args[key] = " ".join(args)
        script = "\n".join(body).strip("\n") + "\n"
        definition.sections[key] = definition.sections.get(key, "") + script
        if kind == "files":
            for line in body:
                line = line.strip()
                if line and not line.startswith("#"):
                    src, _, dst = line.partition(" ")
                    definition.files.append((src, dst.strip() or src))
        elif kind == "labels":
            for line in body:
                line = line.strip()
                if line and not line.startswith("#"):
                    key_, _, value = line.partition(" ")
                    definition.labels[key_] = value.strip()
    return definition
