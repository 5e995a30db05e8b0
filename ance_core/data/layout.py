"""Where a data set's files are: a directory in MS MARCO layout, or a built-in.

Built-ins:
* `builtin:debian-10pct` — the embedded default, shipped inside the package
  (a 10% subset of the Debian descriptions corpus made by `ance data subset`).
* `builtin:debian` — the full corpus (60,229 passages), shipped inside the package
  as `ance data debian` writes it from Debian 12's Translation-en.

Each built-in folder carries a COMPLETE marker with the sha256 of its files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ance_core.errors import InputError

BUILTIN_DIR = Path(__file__).resolve().parent / "builtin"


def builtin_names() -> list[str]:
    return sorted(p.name for p in BUILTIN_DIR.iterdir() if p.is_dir()) if BUILTIN_DIR.is_dir() else []


@dataclass(frozen=True)
class DataSource:
    root: Path
    files: dict[str, str] = field(default_factory=dict)
    spec: str = ""

    def _find(self, role: str, stem: str) -> Path:
        if role in self.files:
            path = Path(self.files[role])
            return path if path.is_absolute() else self.root / path
        for name in (f"{stem}.tsv", f"{stem}.tsv.gz"):
            if (self.root / name).is_file():
                return self.root / name
        return self.root / f"{stem}.tsv"

    @property
    def collection(self) -> Path:
        return self.require("collection", "collection")

    def queries(self, split: str) -> Path:
        return self.require(f"queries.{split}", f"queries.{split}")

    def qrels(self, split: str) -> Path:
        return self.require(f"qrels.{split}", f"qrels.{split}")

    def optional(self, role: str, stem: str | None = None) -> Path | None:
        """The file for `role` (e.g. 'qrels.eval', 'packages.train') if it exists, else None."""
        path = self._find(role, stem or role)
        return path if path.is_file() else None

    def require(self, role: str, stem: str) -> Path:
        path = self._find(role, stem)
        if not path.is_file():
            hint = f" (map it with data.files['{role}'])" if role not in self.files else ""
            raise InputError.single(
                self.spec or self.root, f"data.files.{role}", f"an existing file {stem}.tsv[.gz]{hint}", str(path), raw=True
            )
        return path

    def splits(self) -> list[str]:
        names = {p.name.split(".")[1] for p in self.root.glob("queries.*.tsv*")}
        names |= {role.split(".", 1)[1] for role in self.files if role.startswith("queries.")}
        return sorted(names)


def resolve_dataset(spec: str, files: dict[str, str] | None = None, source: str | Path | None = None) -> DataSource:
    """Turn `data.dataset` (a path or builtin:<name>) into a DataSource, or say what is wrong."""
    files = dict(files or {})
    if spec.startswith("builtin:"):
        name = spec.split(":", 1)[1]
        packaged = BUILTIN_DIR / name
        if packaged.is_dir():
            return DataSource(packaged, files, spec)
        raise InputError.single(source, "data.dataset", f"one of builtin:{', builtin:'.join(builtin_names())}", spec)
    root = Path(os.path.expandvars(os.path.expanduser(spec)))
    if not root.is_dir():
        raise InputError.single(source, "data.dataset", "an existing data directory (MS MARCO layout)", str(root), raw=True)
    return DataSource(root, files, str(root))
