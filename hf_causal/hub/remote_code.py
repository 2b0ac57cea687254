"""Checkpoints that carry their code: Hub remote code for every model class of the package.

:func:`enable_remote_code` registers a model, its config (and optionally a tokenizer) with
``register_for_auto_class``, so ``save_pretrained`` copies the defining ``.py`` files (and their relative-import
closure) next to the weights and writes ``auto_map``; a user *without* hf-causal installed then loads it with
``AutoModel.from_pretrained(repo, trust_remote_code=True)``. A shipped file may only import relatively within its
folder (docs/design.md §1); :func:`remote_code_files` refuses anything else.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from transformers import PretrainedConfig, PreTrainedModel

PACKAGE = "hf_causal"

# Packages a remote-code user needs anyway (they load the checkpoint with transformers).
_ALWAYS_PRESENT = {"torch", "transformers", "huggingface_hub", "safetensors", "tokenizers", "numpy", "tqdm"}


class RemoteCodeError(RuntimeError):
    """A model's code cannot be shipped as Hub remote code (e.g. it imports ``hf_causal`` absolutely)."""


def _class_of(obj: Any) -> type:
    return obj if isinstance(obj, type) else type(obj)


def remote_code_files(model_class: type | Any) -> list[Path]:
    """The ``.py`` files ``save_pretrained`` ships with ``model_class`` (its module + relative-import closure).

    Raises:
        RemoteCodeError: when one of them imports ``hf_causal`` absolutely (it would not load where
            hf-causal is not installed) or the class is not defined in a file.
    """
    from transformers.dynamic_module_utils import get_imports, get_relative_import_files

    cls = _class_of(model_class)
    module = sys.modules.get(cls.__module__)
    path = getattr(module, "__file__", None)
    if path is None or cls.__module__ == "__main__":
        raise RemoteCodeError(f"{cls.__name__} is not defined in an importable file; its code cannot be shipped")
    files = [Path(path)] + [Path(f) for f in get_relative_import_files(path)]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise RemoteCodeError(f"{cls.__name__}: relative imports outside its folder cannot be shipped: {missing}")
    offenders = [f.name for f in files if PACKAGE in get_imports(str(f))]
    if offenders:
        raise RemoteCodeError(
            f"{cls.__name__}: {', '.join(sorted(offenders))} import {PACKAGE} absolutely; use relative imports "
            "within the model folder so the checkpoint loads without hf-causal installed"
        )
    return files


def remote_code_requirements(model_class: type | Any) -> list[str]:
    """Third-party packages that ``trust_remote_code`` loading of ``model_class`` checks for.

    transformers refuses to load remote code when a module imported (outside ``try`` blocks) by any of the
    shipped files is missing; this lists those beyond the packages every transformers user already has.
    """
    from transformers.dynamic_module_utils import get_imports

    stdlib = set(getattr(sys, "stdlib_module_names", ()))
    needed: set[str] = set()
    for f in remote_code_files(model_class):
        needed.update(get_imports(str(f)))
    return sorted(n for n in needed if n not in stdlib and n not in _ALWAYS_PRESENT and n != "__future__")


def _default_auto_class(cls: type) -> str:
    from transformers import GenerationMixin

    return "AutoModelForCausalLM" if issubclass(cls, GenerationMixin) else "AutoModel"


def enable_remote_code(model: PreTrainedModel | type, auto_class: str | None = None, tokenizer: Any = None) -> str:
    """Register ``model``'s class (and its config, and ``tokenizer``'s class) for Hub remote code.

    After this, ``save_pretrained``/``push_to_hub`` copy the defining ``.py`` files and write ``auto_map``, so
    the checkpoint loads with ``trust_remote_code=True`` where hf-causal is not installed.

    Args:
        model: a model instance or class of this package.
        auto_class: the Auto class to map (default: the class's own ``_auto_class`` if it registered one,
            else ``AutoModelForCausalLM`` for generative models and ``AutoModel`` otherwise).
        tokenizer: optional tokenizer (instance or class) to register with ``AutoTokenizer``.

    Returns:
        The Auto class name used for the model.

    Raises:
        RemoteCodeError: when the code cannot load without hf-causal (see :func:`remote_code_files`).
    """
    cls = _class_of(model)
    if not (isinstance(cls, type) and issubclass(cls, PreTrainedModel)):
        raise TypeError(f"expected a transformers PreTrainedModel, got {cls!r}")
    remote_code_files(cls)
    chosen = auto_class or getattr(cls, "_auto_class", None) or _default_auto_class(cls)
    cls.register_for_auto_class(chosen)
    config_class = getattr(cls, "config_class", None)
    if config_class is not None and config_class is not PretrainedConfig:
        remote_code_files(config_class)
        config_class.register_for_auto_class()
    if tokenizer is not None:
        remote_code_files(_class_of(tokenizer))
        _class_of(tokenizer).register_for_auto_class("AutoTokenizer")
    return chosen
