"""The model registry: each wing registers its model classes here when it is imported.

``register_model`` records a wing's config / model (/ tokenizer) classes and registers them with the
transformers Auto classes, so ``AutoModel.from_pretrained(folder)`` works in-library without remote code. The
hub never imports a wing by name: a checkpoint's ``model_type`` is looked up in the
``[project.entry-points."hf_causal.models"]`` table of pyproject.toml, which maps it to the wing that registers
it, and only that wing is imported (docs/design.md §1). Another package can add models the same way.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

#: The entry-point group mapping a ``model_type`` to the module whose import registers it.
ENTRY_POINT_GROUP = "hf_causal.models"


@dataclass(frozen=True)
class ModelEntry:
    """A registered model type: its classes and the Auto classes that map to it."""

    config_class: type
    model_class: type
    auto_classes: tuple[str, ...] = ("AutoModel",)
    tokenizer_class: type | None = None

    @property
    def model_type(self) -> str:
        """The config's ``model_type`` (``config.json``'s key)."""
        return str(self.config_class.model_type)


_MODELS: dict[str, ModelEntry] = {}


def register_model(
    config_class: type,
    model_class: type,
    *,
    auto_classes: Sequence[str] = ("AutoModel",),
    tokenizer_class: type | None = None,
) -> ModelEntry:
    """Record a model type and register it with ``AutoConfig``, the named Auto model classes and ``AutoTokenizer``.

    Safe to call again (a re-import): the latest classes win, as with ``exist_ok=True`` in transformers.
    """
    import transformers

    entry = ModelEntry(config_class, model_class, tuple(auto_classes), tokenizer_class)
    transformers.AutoConfig.register(entry.model_type, config_class, exist_ok=True)
    for name in entry.auto_classes:
        getattr(transformers, name).register(config_class, model_class, exist_ok=True)
    if tokenizer_class is not None:
        transformers.AutoTokenizer.register(config_class, fast_tokenizer_class=tokenizer_class, exist_ok=True)
    _MODELS[entry.model_type] = entry
    return entry


def _load_entry_points(model_type: str | None = None) -> None:
    """Import the modules that register ``model_type`` (every registered module when ``None``)."""
    for point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if model_type is None or point.name == model_type:
            try:
                point.load()
            except ImportError:  # a wing whose optional dependencies are missing
                continue


def model_entry(model_type: str) -> ModelEntry | None:
    """The registered entry of ``model_type``, importing the wing that provides it if needed; ``None`` if unknown."""
    if model_type not in _MODELS:
        _load_entry_points(model_type)
    return _MODELS.get(model_type)


def registered_models(load_all: bool = True) -> dict[str, ModelEntry]:
    """Every registered model type (``load_all``: import every wing listed in the entry points first)."""
    if load_all:
        _load_entry_points()
    return dict(_MODELS)


def model_class_for(config: Any) -> type | None:
    """The library model class of a config (instance or class), or ``None`` when no wing registers its type."""
    entry = model_entry(str(getattr(config, "model_type", "")))
    return None if entry is None else entry.model_class
