"""Checkpoint names and folders, resolved in one place: bundled names, local folders, Hub ids.

The package ships checkpoints under ``hf_causal/checkpoints/<name>/`` (today ``cina-zs-base``); any folder there
with a ``config.json`` is a bundled checkpoint, loadable offline by its name.

Every loader of hf-causal goes through :func:`resolve_checkpoint`, so a bad name or folder fails here, at once and
in one line naming the file and what is wrong, rather than deep inside ``from_pretrained``:

* a local folder must hold a readable ``config.json`` and safetensors weights (pickled weights are refused: a
  pickle can run code when loaded);
* a name that is a path (``./x``, ``/x``, ``~/x``, ``a/b/c``) but no folder is a missing folder, not a Hub id;
* a Hub id while offline (``HF_HUB_OFFLINE=1``) must be in the local cache, and while online the Hub is asked once,
  with a short timeout and no retries, whether the repository exists, so that no network or an unknown name
  fails in seconds rather than after a minute of retries.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

BUNDLED_ROOT = Path(__file__).resolve().parent.parent / "checkpoints"
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".ckpt")
#: Weight files hf-causal loads (a full model, a LoRA adapter) and the index of sharded weights.
SAFETENSORS_WEIGHTS = ("model.safetensors", "adapter_model.safetensors")
SAFETENSORS_INDEX = "model.safetensors.index.json"
#: Seconds the existence check of a Hub id may take (one request, no retries).
HUB_CHECK_TIMEOUT = 10.0


def bundled_checkpoints() -> dict[str, Path]:
    """``{name: folder}`` of the checkpoints shipped inside the package."""
    if not BUNDLED_ROOT.is_dir():
        return {}
    return {p.name: p for p in sorted(BUNDLED_ROOT.iterdir()) if (p / "config.json").is_file()}


def is_bundled(name_or_path: str | os.PathLike) -> bool:
    """Whether ``name_or_path`` names a bundled checkpoint (a local folder of the same name wins)."""
    name = str(name_or_path)
    return name in bundled_checkpoints() and not os.path.isdir(name)


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def read_json_file(path: str | os.PathLike) -> dict[str, Any]:
    """A JSON object file, or a ``ValueError`` naming the file and what is wrong with it."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise ValueError(f"{path} is not a text file ({_first_line(err)})") from err
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON ({err})") from err
    if not isinstance(data, dict):
        raise ValueError(f"{path} must hold a JSON object, got {type(data).__name__}")
    return data


def check_safetensors_file(path: str | os.PathLike) -> None:
    """Open a safetensors file's header (no tensors are read); a ``ValueError`` naming the file if it is truncated,
    corrupt or not safetensors at all."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            f.keys()
    except Exception as err:  # safetensors raises its own SafetensorError (not an OSError/ValueError)
        raise ValueError(
            f"{path} is not a readable safetensors file ({_first_line(err)}): it is truncated or corrupt; "
            "save or download it again"
        ) from err


def check_checkpoint_folder(folder: str | os.PathLike, json_files: tuple[str, ...] = ()) -> None:
    """Check that ``folder`` holds a loadable hf-causal checkpoint, before any model code runs.

    Args:
        folder: the checkpoint folder.
        json_files: other JSON files that must parse when present (e.g. an engine's ``tokenizer_config.json``).

    Raises:
        ValueError: ``config.json`` missing, not JSON or without ``model_type``; pickled weights only (hf-causal
            loads safetensors only); no weights; a truncated or corrupt safetensors file (each names the file).
    """
    folder = Path(folder)
    files = set(os.listdir(folder))
    if "config.json" not in files:
        raise ValueError(f"{str(folder)!r} is not a checkpoint folder: config.json is missing")
    config = read_json_file(folder / "config.json")
    if not config.get("model_type"):
        raise ValueError(f"{folder / 'config.json'} names no model_type: it is not a transformers model config")
    for name in json_files:
        if name in files:
            read_json_file(folder / name)
    weights = [name for name in SAFETENSORS_WEIGHTS if name in files]
    if SAFETENSORS_INDEX in files:
        index = read_json_file(folder / SAFETENSORS_INDEX)
        shards = sorted(set(dict(index.get("weight_map") or {}).values()))
        missing = [s for s in shards if s not in files]
        if missing:
            raise ValueError(f"{folder / SAFETENSORS_INDEX} lists shards missing from the folder: {missing[:3]}")
        weights += shards
    if not weights:
        pickled = sorted(f for f in files if f.endswith(PICKLE_SUFFIXES))
        if pickled:
            raise ValueError(
                f"{str(folder)!r} holds pickled weights only ({pickled[0]}); hf-causal loads safetensors only "
                "(a pickle can run code when loaded): convert them with save_pretrained(safe_serialization=True)"
            )
        raise ValueError(f"{str(folder)!r} holds no weights: model.safetensors is missing")
    for name in weights:
        check_safetensors_file(folder / name)


def _looks_like_path(name: str) -> bool:
    """A name a Hub id cannot be (Hub ids are ``name`` or ``org/name``): relative, absolute or home paths."""
    return (
        name.startswith((".", "/", "~", "\\"))
        or os.path.isabs(name)
        or "\\" in name
        or name.count("/") > 1
        or os.path.exists(name)
    )


def _offline() -> bool:
    from huggingface_hub import constants

    check = getattr(constants, "is_offline_mode", None)
    return bool(check()) if check is not None else bool(constants.HF_HUB_OFFLINE)


def _cached_snapshot(repo_id: str) -> str | None:
    """The cached snapshot folder of ``repo_id`` (its ``config.json`` in the local Hub cache), if any."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo_id, "config.json")
    return str(Path(found).parent) if isinstance(found, str) else None


def _resolve_hub_id(name: str) -> str:
    from huggingface_hub.utils import validate_repo_id

    bundled = ", ".join(bundled_checkpoints()) or "none"
    known = f"not a local folder or a bundled checkpoint ({bundled})"
    try:
        validate_repo_id(name)
    except ValueError as err:
        raise ValueError(f"model {name!r} is {known}, nor a valid Hub id ({_first_line(err)})") from err
    if _offline():
        cached = _cached_snapshot(name)
        if cached is None:
            raise FileNotFoundError(
                f"model {name!r} is {known}, and the Hub is offline (HF_HUB_OFFLINE) with no cached copy of it"
            )
        return name
    from huggingface_hub import HfApi
    from huggingface_hub.errors import RepositoryNotFoundError

    try:
        HfApi().model_info(name, timeout=HUB_CHECK_TIMEOUT)
    except RepositoryNotFoundError as err:
        # only a 404 says the repo does not exist; a 401 is also what a private or gated repo answers without
        # credentials (and what some mirrors answer for metadata): from_pretrained then tries with the token
        if getattr(getattr(err, "response", None), "status_code", None) != 404:
            return name
        raise FileNotFoundError(f"model {name!r} is {known}, nor a model on the Hub") from err
    except Exception as err:  # no network, DNS failure, timeout: huggingface_hub/httpx raise their own types
        if getattr(getattr(err, "response", None), "status_code", None) is not None:
            return name  # the Hub answered (gated or private repo, rate limit): from_pretrained reports it
        if _cached_snapshot(name) is not None:
            return name
        raise FileNotFoundError(
            f"model {name!r} is {known}, and the Hub cannot be reached to fetch it ({_first_line(err)}); "
            "set HF_HUB_OFFLINE=1 to load cached models without trying the network"
        ) from err
    return name


def resolve_checkpoint(name_or_path: str | os.PathLike) -> str:
    """A bundled name becomes its folder; a local folder is checked (:func:`check_checkpoint_folder`); a Hub id is
    checked for existence (module docstring) and passed through.

    Raises:
        FileNotFoundError: a missing folder, a Hub id that is unknown, or unreachable (offline without a cached copy,
            or no network), a bundled checkpoint whose weights are missing from the installation.
        ValueError: a folder that is no loadable checkpoint (:func:`check_checkpoint_folder`), a name that is no
            valid Hub id.
    """
    name = str(name_or_path)
    if is_bundled(name):
        path = bundled_checkpoints()[name]
        if not (path / "model.safetensors").is_file():
            raise FileNotFoundError(f"bundled checkpoint {name!r} is missing from the installation ({path})")
        return str(path)
    if os.path.isdir(name):
        check_checkpoint_folder(name)
        return name
    if os.path.isfile(name):
        raise ValueError(f"model {name!r} is a file; give the checkpoint folder that holds config.json")
    if _looks_like_path(name):
        raise FileNotFoundError(f"model folder not found: {name}")
    return _resolve_hub_id(name)
