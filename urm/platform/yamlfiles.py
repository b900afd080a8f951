"""Version-controlled YAML definitions (export contracts, campaigns): one file per name in a folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

from ingest.errors import UserError


def read_yaml(path: Path, refused: type[UserError]) -> Any:
    """The file's YAML; `refused` (one line naming the file) when it is not valid YAML."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise refused(f"{path}: not valid YAML ({str(err).splitlines()[0]})") from None


def yaml_files(folder: Path) -> list[Path]:
    """The definitions in `folder`: every `*.yml` but those starting with `_` (templates, notes)."""
    return sorted(p for p in folder.glob("*.yml") if not p.name.startswith("_"))
