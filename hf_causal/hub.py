"""Hub helpers: checkpoints that carry their code, model cards with eval results, push and pull.

Every model class of the package can be shared so that a user *without* hf-causal installed loads it with
``AutoModel.from_pretrained(repo, trust_remote_code=True)``: :func:`enable_remote_code` registers the model,
its config (and optionally a tokenizer) with ``register_for_auto_class``, so ``save_pretrained`` copies the
defining ``.py`` files (and their relative imports) next to the weights and writes ``auto_map``.

* :func:`save_for_hub` -- save a model (+ tokenizer) with its code and a generated ``README.md`` card.
* :func:`push_to_hub` / :func:`push_folder` -- upload through :class:`huggingface_hub.HfApi` (``endpoint``
  selects a Hub-compatible server; defaults to ``HF_ENDPOINT``).
* :func:`push_dataset_folder` -- upload a folder written by :mod:`hf_causal.data.publish` as a dataset repo.
* :func:`pull` -- ``snapshot_download`` a repo (``endpoint`` as above) and return the local folder.
* :func:`build_model_card` / :func:`eval_results_from_dict` / :func:`write_model_card` -- Hub cards
  (``huggingface_hub.ModelCard`` with ``model-index`` eval results) from a results dict.
* :func:`load_checkpoint` -- load any hf-causal checkpoint folder with the library classes.

Nothing here needs network access except ``push_*`` and ``pull``.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, HfApi, ModelCard, ModelCardData
from transformers import PretrainedConfig, PreTrainedModel

__all__ = [
    "RemoteCodeError",
    "build_model_card",
    "enable_remote_code",
    "eval_results_from_dict",
    "load_checkpoint",
    "pull",
    "push_dataset_folder",
    "push_folder",
    "push_to_hub",
    "remote_code_files",
    "remote_code_requirements",
    "results_from_benchmark_records",
    "save_for_hub",
    "write_model_card",
]

PACKAGE = "hf_causal"
TASK_TYPE = "treatment-effect-estimation"
REPO_URL = "https://github.com/hf-causal/hf-causal"

# Modules whose import registers an hf-causal model type with the Auto classes (tried lazily, in order).
MODEL_MODULES = (
    "hf_causal.cina.modeling_cina",
    "hf_causal.engine.modeling_causal_ar",
    "hf_causal.discovery.modeling_forecaster",
)

# Packages a remote-code user needs anyway (they load the checkpoint with transformers).
_ALWAYS_PRESENT = {"torch", "transformers", "huggingface_hub", "safetensors", "tokenizers", "numpy", "tqdm"}


class RemoteCodeError(RuntimeError):
    """A model's code cannot be shipped as Hub remote code (e.g. it imports ``hf_causal`` absolutely)."""


# -- remote code ---------------------------------------------------------------------------------------


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


# -- cards ---------------------------------------------------------------------------------------------


def eval_results_from_dict(results: Mapping[str, Any] | Iterable[Mapping[str, Any]]) -> list[EvalResult]:
    """Turn a results dict into ``EvalResult`` entries for a card's ``model-index``.

    Accepted shapes:

    * ``{dataset: {metric: value}}`` (e.g. ``{"lalonde_nsw_cps": {"att_abs_error": 210.3}}``);
    * a list of rows ``{"dataset", "metric", "value"}`` with optional ``dataset_type`` (Hub dataset id),
      ``config``, ``split``, ``metric_name``, ``task_type``;
    * either of these under a ``"results"`` key of a larger dict.

    Raises:
        ValueError: on a malformed entry or a non-numeric value.
    """
    if isinstance(results, Mapping) and "results" in results:
        results = results["results"]
    rows: list[Mapping[str, Any]] = []
    if isinstance(results, Mapping):
        for dataset, metrics in results.items():
            if not isinstance(metrics, Mapping):
                raise ValueError(f"results[{dataset!r}] must map metric names to numbers, got {metrics!r}")
            rows.extend({"dataset": dataset, "metric": m, "value": v} for m, v in metrics.items())
    else:
        rows = list(results)
    out = []
    for row in rows:
        try:
            dataset, metric, value = row["dataset"], row["metric"], row["value"]
        except (KeyError, TypeError) as err:
            raise ValueError(f"a results row needs 'dataset', 'metric' and 'value': {row!r}") from err
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"metric {metric!r} on {dataset!r} must be a number, got {value!r}")
        out.append(
            EvalResult(
                task_type=row.get("task_type", TASK_TYPE),
                task_name=row.get("task_name", "Treatment effect estimation"),
                dataset_type=row.get("dataset_type", dataset),
                dataset_name=row.get("dataset_name", dataset),
                dataset_config=row.get("config"),
                dataset_split=row.get("split"),
                metric_type=metric,
                metric_name=row.get("metric_name", metric),
                metric_value=float(value),
            )
        )
    return out


def _model_class_for(config: PretrainedConfig) -> type | None:
    from transformers import AutoModel, AutoModelForCausalLM

    _import_model_modules()
    for auto in (AutoModel, AutoModelForCausalLM):
        try:
            return auto._model_mapping[type(config)]
        except (KeyError, ValueError):
            continue
    return None


def _config_table(config: PretrainedConfig) -> str:
    skip = {"architectures", "auto_map", "transformers_version", "dtype", "torch_dtype", "model_type"}
    data = {k: v for k, v in config.to_diff_dict().items() if k not in skip}
    lines = ["| field | value |", "|---|---|"] + [f"| `{k}` | `{v}` |" for k, v in sorted(data.items())]
    return "\n".join(lines)


def build_model_card(
    model: PreTrainedModel | PretrainedConfig,
    repo_id: str | None = None,
    *,
    results: Mapping[str, Any] | Iterable[Mapping[str, Any]] | None = None,
    description: str | None = None,
    datasets: list[str] | None = None,
    license: str = "apache-2.0",
    tags: list[str] | None = None,
    extra_sections: Mapping[str, str] | None = None,
) -> ModelCard:
    """A Hub model card for an hf-causal checkpoint.

    The YAML header holds ``library_name: transformers``, tags (``hf-causal``, the model type,
    ``custom_code``), datasets and, when ``results`` is given, a ``model-index`` with the eval results
    (see :func:`eval_results_from_dict`). The body explains loading with and without hf-causal, lists the
    packages remote-code loading needs, the config, and a results table.
    """
    config = model if isinstance(model, PretrainedConfig) else model.config
    name = repo_id or getattr(config, "name_or_path", "") or config.model_type
    model_name = name.split("/")[-1] or config.model_type
    evals = eval_results_from_dict(results) if results is not None else None
    model_cls = type(model) if isinstance(model, PreTrainedModel) else _model_class_for(config)
    arch = model_cls.__name__ if model_cls else (getattr(config, "architectures", None) or ["PreTrainedModel"])[0]
    package = (model_cls or type(config)).__module__.rsplit(".", 1)[0]
    import_line = f"import {package}  # registers the model classes" if package.startswith(PACKAGE) else ""
    all_tags = ["hf-causal", "causal-inference", config.model_type, "custom_code"]
    all_tags += [t for t in (tags or []) if t not in all_tags]
    data = ModelCardData(
        library_name="transformers",
        license=license,
        tags=all_tags,
        datasets=datasets or None,
        model_name=model_name,
        eval_results=evals or None,
    )
    requirements = []
    if model_cls is not None:
        try:
            requirements = remote_code_requirements(model_cls)
        except RemoteCodeError:
            requirements = []
    req_line = (
        f"Remote-code loading also needs: {', '.join(f'`{r}`' for r in requirements)}.\n"
        if requirements
        else ""
    )
    body = [
        f"# {model_name}",
        "",
        description or f"An hf-causal `{arch}` checkpoint (model type `{config.model_type}`).",
        "",
        "## Usage",
        "",
        "With hf-causal installed (`pip install hf-causal`):",
        "",
        "```python",
        "from transformers import AutoModel",
        *([import_line] if import_line else []),
        "",
        f'model = AutoModel.from_pretrained("{name}")',
        *(
            ['result = model.estimate(X, T, Y, estimand="ate")  # EffectEstimate: value, ci_low, ci_high, weights']
            if model_cls is not None and callable(getattr(model_cls, "estimate", None))
            else []
        ),
        "```",
        "",
        "Without hf-causal: the checkpoint carries its code.",
        "",
        "```python",
        "from transformers import AutoModel",
        "",
        f'model = AutoModel.from_pretrained("{name}", trust_remote_code=True)',
        "```",
        "",
        req_line,
        "## Configuration",
        "",
        _config_table(config),
        "",
    ]
    if evals:
        body += ["## Evaluation", "", "| dataset | metric | value |", "|---|---|---|"]
        body += [f"| {e.dataset_name} | {e.metric_name} | {e.metric_value:.4g} |" for e in evals]
        body.append("")
    for heading, text in (extra_sections or {}).items():
        body += [f"## {heading}", "", text.strip(), ""]
    body += [f"Code and documentation: {REPO_URL}", ""]
    return ModelCard(f"---\n{data.to_yaml()}\n---\n\n" + "\n".join(body))


def results_from_benchmark_records(
    records_path: str | os.PathLike, method: str = "cina_zs"
) -> dict[str, dict[str, float]]:
    """Per-suite metrics of one method from ``benchmarks/ate_benchmark.py --records`` JSON lines.

    Returns ``{suite: {"<estimand>_mae", "<estimand>_median_abs_error", "coverage_95" (when the method gave
    intervals), "n_datasets"}}`` over the method's successful runs, ready for :func:`eval_results_from_dict`.

    Raises:
        ValueError: when the file has no successful record of ``method`` (the message lists the methods seen).
    """
    import statistics

    by_suite: dict[str, list[Mapping[str, Any]]] = {}
    seen: set[str] = set()
    for line_no, line in enumerate(Path(records_path).read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f"{records_path}:{line_no} is not a JSON record: {err.msg}") from err
        seen.add(str(rec.get("method")))
        if rec.get("method") == method and rec.get("status") == "ok" and rec.get("estimate") is not None:
            by_suite.setdefault(rec["suite"], []).append(rec)
    if not by_suite:
        raise ValueError(f"no successful records of method {method!r} in {records_path}; methods: {sorted(seen)}")
    out: dict[str, dict[str, float]] = {}
    for suite, recs in by_suite.items():
        estimand = recs[0].get("estimand", "ate")
        errors = [abs(float(r["estimate"]) - float(r["truth"])) for r in recs]
        metrics = {
            f"{estimand}_mae": statistics.fmean(errors),
            f"{estimand}_median_abs_error": statistics.median(errors),
            "n_datasets": float(len(recs)),
        }
        with_ci = [r for r in recs if r.get("ci_low") is not None and r.get("ci_high") is not None]
        if with_ci:
            metrics["coverage_95"] = statistics.fmean(
                float(r["ci_low"] <= r["truth"] <= r["ci_high"]) for r in with_ci
            )
        out[suite] = metrics
    return out


def write_model_card(
    results_path: str | os.PathLike,
    output: str | os.PathLike,
    checkpoint: str | os.PathLike | None = None,
    repo_id: str | None = None,
) -> Path:
    """Regenerate a model card from a results JSON file (``hf-causal cards``).

    The JSON holds the results (any shape :func:`eval_results_from_dict` accepts, optionally under
    ``"results"``) and may add ``description``, ``datasets``, ``tags``, ``repo_id``, ``checkpoint`` and
    ``sections`` (``{heading: markdown}``). The config comes from ``checkpoint`` (argument or JSON key).

    Returns:
        The path of the written card.
    """
    payload = json.loads(Path(results_path).read_text())
    if not isinstance(payload, Mapping):
        payload = {"results": payload}
    ckpt = checkpoint or payload.get("checkpoint")
    if ckpt is None:
        raise ValueError("no checkpoint: pass --checkpoint or put 'checkpoint' in the results JSON")
    ckpt_path = Path(ckpt)
    if not ckpt_path.is_absolute() and not ckpt_path.exists():
        ckpt_path = Path(results_path).parent / ckpt_path
    config = _load_config(ckpt_path)
    card = build_model_card(
        config,
        repo_id or payload.get("repo_id"),
        results=payload.get("results", {}),
        description=payload.get("description"),
        datasets=payload.get("datasets"),
        tags=payload.get("tags"),
        extra_sections=payload.get("sections"),
    )
    out = Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    card.save(out)
    return out


# -- save / load ---------------------------------------------------------------------------------------


def _import_model_modules() -> None:
    import importlib

    for name in MODEL_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:  # a sub-package whose optional dependencies are missing
            continue


def _load_config(folder: Path) -> PretrainedConfig:
    from transformers import AutoConfig

    if not (folder / "config.json").is_file():
        raise FileNotFoundError(f"not a checkpoint folder (config.json missing): {folder}")
    _import_model_modules()
    return AutoConfig.from_pretrained(str(folder))


def load_checkpoint(path: str | os.PathLike, **kwargs: Any) -> PreTrainedModel:
    """Load an hf-causal checkpoint folder with the library's classes (no remote code).

    Tries ``AutoModel`` and then ``AutoModelForCausalLM`` after importing the package's model modules.
    """
    from transformers import AutoModel, AutoModelForCausalLM

    folder = Path(path)
    config = _load_config(folder)
    for auto in (AutoModel, AutoModelForCausalLM):
        if type(config) in auto._model_mapping:
            return auto.from_pretrained(str(folder), config=config, **kwargs)
    raise ValueError(f"model type {config.model_type!r} in {folder} is not an hf-causal model")


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


# -- push / pull ---------------------------------------------------------------------------------------


def _api(endpoint: str | None, token: str | bool | None) -> HfApi:
    from . import __version__

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
