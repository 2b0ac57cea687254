"""What the ``train/`` scripts share: a config of defaults + a YAML file + overrides, the command line, the
:class:`~hf_causal.core.training.LoopArguments` of a ``train`` section, and the newest checkpoint to resume.

>>> cfg = load_run_config(DEFAULTS, "train/configs/cina_tiny.yaml", ["train.max_steps=10"])   # doctest: +SKIP
>>> loop = TrainingLoop(model, loop_arguments(cfg["train"], "out", progress=True, description="x"))  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from .training import LoopArguments, resolve_mixed_precision


def load_run_config(defaults: Mapping[str, Any], path: str | None, overrides: Sequence[str]) -> dict[str, Any]:
    """Merge ``defaults``, a YAML/JSON file and ``section.key=value`` (or top-level ``key=value``) overrides.

    A section in the file updates the default section key by key; a top-level scalar replaces the default."""
    cfg = json.loads(json.dumps(dict(defaults)))
    if path:
        loaded = yaml.safe_load(Path(path).read_text()) or {}
        for key, values in loaded.items():
            if values is None:  # an empty section keeps its defaults
                continue
            if isinstance(values, dict):
                cfg.setdefault(key, {}).update(values)
            else:
                cfg[key] = values
    for item in overrides:
        key, _, raw = item.partition("=")
        section, _, name = key.partition(".")
        if name:
            cfg.setdefault(section, {})[name] = yaml.safe_load(raw)
        elif section in cfg and not isinstance(cfg[section], dict):
            cfg[section] = yaml.safe_load(raw)
        else:
            raise ValueError(f"override {item!r} must look like section.key=value")
    return cfg


def run_parser(description: str, configs: str) -> argparse.ArgumentParser:
    """The command line of a pretraining script: ``--config``, ``--output-dir``, ``--resume``, ``--set``,
    ``--no-progress`` (``configs`` names the config files in the help)."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", help=f"YAML/JSON config file (see {configs})")
    parser.add_argument("--output-dir", required=True)
    parser.add_argument("--resume", action="store_true", help="continue from the newest checkpoint-* in output-dir")
    parser.add_argument("--set", nargs="*", default=[], metavar="SECTION.KEY=VALUE", help="config overrides")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for torch and the BLAS libraries (default: theirs). On a shared machine give "
                             "a run 1: two multi-threaded processes on two cores slow each other down several times")
    return parser


def limit_threads(threads: int | None) -> None:
    """Use at most ``threads`` CPU threads in torch and in the BLAS/OpenMP pools numpy and scikit-learn use
    (``None``: leave them as they are). For a run that shares the machine (docs/design.md §5.5)."""
    if threads is None:
        return
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"--threads must be a positive integer, got {threads!r}")
    import torch

    torch.set_num_threads(threads)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # without it the BLAS pool keeps its size; torch is limited all the same
        return
    threadpool_limits(threads)


def loop_arguments(train: Mapping[str, Any], output_dir: str | Path, *, progress: bool, description: str,
                   **extra: Any) -> LoopArguments:
    """:class:`LoopArguments` from a config's ``train`` section (checkpoints into ``output_dir``, the last step
    included); ``extra`` sets further fields."""
    return LoopArguments(
        max_steps=int(train["max_steps"]),
        learning_rate=float(train["learning_rate"]),
        weight_decay=float(train["weight_decay"]),
        warmup_steps=int(train["warmup_steps"]),
        max_grad_norm=float(train["max_grad_norm"]),
        gradient_accumulation_steps=int(train["gradient_accumulation_steps"]),
        mixed_precision=resolve_mixed_precision(train["mixed_precision"]),
        eval_every=int(train["eval_every"]),
        output_dir=str(output_dir),
        save_every=int(train["save_every"]),
        save_last=True,
        spike_mads=None if train.get("spike_mads") is None else float(train["spike_mads"]),
        progress=progress,
        description=description,
        **extra,
    )


def newest_checkpoint(output_dir: str | Path) -> Path:
    """The ``checkpoint-<step>`` folder of ``output_dir`` with the largest step, or ``SystemExit`` naming the folder."""
    checkpoints = sorted(Path(output_dir).glob("checkpoint-*"), key=lambda p: int(p.name.rsplit("-", 1)[1]))
    if not checkpoints:
        raise SystemExit(f"--resume: no checkpoint-* folder in {output_dir}")
    return checkpoints[-1]
