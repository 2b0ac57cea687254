"""Checkpoint names and folders, resolved in one place: bundled names, local folders, Hub ids.

The package ships checkpoints under ``hf_causal/checkpoints/<name>/`` (today ``cina-zs-base``); any folder there
with a ``config.json`` is a bundled checkpoint, loadable offline by its name.
"""

from __future__ import annotations

import os
from pathlib import Path

BUNDLED_ROOT = Path(__file__).resolve().parent.parent / "checkpoints"
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".ckpt")


def bundled_checkpoints() -> dict[str, Path]:
    """``{name: folder}`` of the checkpoints shipped inside the package."""
    if not BUNDLED_ROOT.is_dir():
        return {}
    return {p.name: p for p in sorted(BUNDLED_ROOT.iterdir()) if (p / "config.json").is_file()}


def is_bundled(name_or_path: str | os.PathLike) -> bool:
    """Whether ``name_or_path`` names a bundled checkpoint (a local folder of the same name wins)."""
    name = str(name_or_path)
    return name in bundled_checkpoints() and not os.path.isdir(name)


def resolve_checkpoint(name_or_path: str | os.PathLike) -> str:
    """A bundled name becomes its folder; a local folder is checked; anything else (a Hub id) passes through.

    Raises:
        FileNotFoundError: a bundled checkpoint whose weights are missing from the installation.
        ValueError: a local folder without ``config.json``, or holding pickled weights only (hf-causal loads
            safetensors only).
    """
    name = str(name_or_path)
    if is_bundled(name):
        path = bundled_checkpoints()[name]
        if not (path / "model.safetensors").is_file():
            raise FileNotFoundError(f"bundled checkpoint {name!r} is missing from the installation ({path})")
        return str(path)
    if os.path.isdir(name):
        files = set(os.listdir(name))
        if "config.json" not in files:
            raise ValueError(f"{name!r} is not a checkpoint folder: config.json is missing")
        if "model.safetensors" not in files and any(f.endswith(PICKLE_SUFFIXES) for f in files):
            raise ValueError(f"{name!r} holds pickled weights only; hf-causal loads safetensors only")
    return name
