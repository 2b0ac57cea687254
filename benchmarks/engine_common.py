"""Pieces shared by the engine experiment scripts (``engine_chess.py``, ``engine_maze.py``)."""

from __future__ import annotations

from typing import Any

import yaml


def engine_training_config(path: str, max_steps: int | None = None, threads: int | None = None) -> dict[str, Any]:
    """``CausalEngine.train`` keyword arguments from a YAML config, with the scripts' command-line overrides.

    Progress bars are off unless the config asks for them (the scripts print their own summaries).
    """
    with open(path, encoding="utf-8") as f:
        config = yaml.safe_load(f) or {}
    if max_steps is not None:
        config["max_steps"] = max_steps
    if threads is not None:
        config["num_threads"] = threads
    config.setdefault("progress", False)
    return config
