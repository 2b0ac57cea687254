"""Moving checkpoints: save with code and card, push to (and pull from) the Hub, load with the library classes.

Nothing here needs network access except ``push_*`` and ``pull``; ``endpoint`` selects a Hub-compatible server
(default: ``HF_ENDPOINT`` or huggingface.co).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from huggingface_hub import HfApi, ModelCard
from transformers import PreTrainedModel

from .cards import build_model_card, load_config
from .checkpoints import resolve_checkpoint
from .registry import model_class_for
from .remote_code import enable_remote_code


def load_checkpoint(path: str | os.PathLike, **kwargs: Any) -> PreTrainedModel:
    """Load an hf-causal checkpoint (a folder or a bundled name) with the library's classes (no remote code).

    The model class comes from the registry (:mod:`hf_causal.hub.registry`), which imports the wing that
    provides the checkpoint's ``model_type``.
    """
    folder = Path(resolve_checkpoint(path))
    config = load_config(folder)
    model_class = model_class_for(config)
    if model_class is None:
        raise ValueError(f"model type {config.model_type!r} in {folder} is not an hf-causal model")
    kwargs.setdefault("use_safetensors", True)
    return model_class.from_pretrained(str(folder), config=config, **kwargs)


def save_for_hub(
    model: PreTrainedModel,
    folder: str | os.PathLike,
    *,
    tokenizer: Any = None,
    card: ModelCard | None = None,
    repo_id: str | None = None,
    results: Mapping[str, Any] | Iterable[Mapping[str, Any]] | None = None,
    auto_class: str | None = None,
) -> Path:
    """Save ``model`` (and ``tokenizer``) with its code and a ``README.md`` card into ``folder``.

    Args:
        model: any hf-causal ``PreTrainedModel``.
        folder: output folder (created).
        tokenizer: optional tokenizer saved alongside (and registered for remote code).
        card: a ready card; otherwise one is built with :func:`build_model_card` from ``results``.
        repo_id: the repo the card's usage snippet names.
        results: eval results for the generated card.
        auto_class: see :func:`enable_remote_code`.

    Returns:
        The folder.
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    enable_remote_code(model, auto_class=auto_class, tokenizer=tokenizer)
    model.save_pretrained(str(out))
    if tokenizer is not None:
        tokenizer.save_pretrained(str(out))
    (card or build_model_card(model, repo_id, results=results)).save(out / "README.md")
    return out


def _api(endpoint: str | None, token: str | bool | None) -> HfApi:
    from .. import __version__

    return HfApi(endpoint=endpoint, token=token, library_name="hf-causal", library_version=__version__)


def push_folder(
    folder: str | os.PathLike,
    repo_id: str,
    *,
    repo_type: str = "model",
    endpoint: str | None = None,
    token: str | bool | None = None,
    private: bool | None = None,
    revision: str | None = None,
    commit_message: str | None = None,
) -> Any:
    """Create ``repo_id`` if needed and upload ``folder`` in one commit. Returns the ``CommitInfo``."""
    path = Path(folder)
    if not path.is_dir():
        raise FileNotFoundError(f"folder to push not found: {path}")
    if repo_type == "model" and not (path / "config.json").is_file():
        raise ValueError(f"{path} is not a checkpoint folder: config.json is missing")
    api = _api(endpoint, token)
    api.create_repo(repo_id, repo_type=repo_type, private=private, exist_ok=True)
    return api.upload_folder(
        folder_path=str(path),
        repo_id=repo_id,
        repo_type=repo_type,
        revision=revision,
        commit_message=commit_message or f"Upload {repo_type} with hf-causal",
    )


def push_to_hub(
    model: PreTrainedModel | str | os.PathLike,
    repo_id: str,
    *,
    tokenizer: Any = None,
    results: Mapping[str, Any] | Iterable[Mapping[str, Any]] | None = None,
    card: ModelCard | None = None,
    endpoint: str | None = None,
    token: str | bool | None = None,
    private: bool | None = None,
    revision: str | None = None,
    commit_message: str | None = None,
) -> Any:
    """Push a model (or a checkpoint folder) with its code and a generated card.

    A folder is loaded with the library classes first (:func:`load_checkpoint`) and re-saved with
    :func:`save_for_hub`, so older checkpoints gain their code and ``auto_map``; an existing ``README.md``
    in the folder is kept unless ``card``/``results`` are given.

    Args:
        model: a ``PreTrainedModel`` or a checkpoint folder.
        repo_id: ``org/name`` on the Hub (or on ``endpoint``).
        endpoint: Hub-compatible server (default: ``HF_ENDPOINT`` / huggingface.co).
        Other arguments: see :func:`save_for_hub` and :func:`push_folder`.

    Returns:
        The ``huggingface_hub.CommitInfo`` of the upload.
    """
    source_card = None
    if not isinstance(model, PreTrainedModel):
        folder = Path(model)
        readme = folder / "README.md"
        if card is None and results is None and readme.is_file():
            source_card = ModelCard.load(readme)
        model = load_checkpoint(folder)
    with tempfile.TemporaryDirectory(prefix="hf-causal-push-") as tmp:
        save_for_hub(model, tmp, tokenizer=tokenizer, card=card or source_card, repo_id=repo_id, results=results)
        return push_folder(
            tmp,
            repo_id,
            endpoint=endpoint,
            token=token,
            private=private,
            revision=revision,
            commit_message=commit_message or "Upload model with hf-causal",
        )


def push_dataset_folder(
    folder: str | os.PathLike,
    repo_id: str,
    *,
    endpoint: str | None = None,
    token: str | bool | None = None,
    private: bool | None = None,
    commit_message: str | None = None,
) -> Any:
    """Upload a dataset folder (parquet + ``README.md`` card, as written by ``dataset_scripts/``)."""
    path = Path(folder)
    if not (path / "README.md").is_file():
        raise ValueError(f"{path} has no README.md dataset card; build it with dataset_scripts/ first")
    if not any(path.rglob("*.parquet")):
        raise ValueError(f"{path} holds no parquet files")
    return push_folder(
        path,
        repo_id,
        repo_type="dataset",
        endpoint=endpoint,
        token=token,
        private=private,
        commit_message=commit_message or "Upload dataset with hf-causal",
    )


def pull(
    repo_id: str,
    *,
    revision: str | None = None,
    endpoint: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    token: str | bool | None = None,
    repo_type: str = "model",
) -> Path:
    """Download a repo snapshot (through ``endpoint`` if given) and return its local folder."""
    return Path(
        _api(endpoint, token).snapshot_download(
            repo_id, revision=revision, repo_type=repo_type, cache_dir=None if cache_dir is None else str(cache_dir)
        )
    )
