"""Model cards: Hub ``ModelCard``s with ``model-index`` eval results, from a results dict or benchmark records."""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData
from transformers import PretrainedConfig, PreTrainedModel

from .checkpoints import bundled_checkpoints, is_bundled
from .registry import model_class_for, model_entry
from .remote_code import PACKAGE, RemoteCodeError, remote_code_requirements

TASK_TYPE = "treatment-effect-estimation"
REPO_URL = "https://github.com/hf-causal/hf-causal"


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
    model_cls = type(model) if isinstance(model, PreTrainedModel) else model_class_for(config)
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
    path = Path(records_path)
    # the benchmarks keep their records gzipped (benchmarks/results/records/*.jsonl.gz)
    text = gzip.decompress(path.read_bytes()).decode() if path.suffix == ".gz" else path.read_text()
    for line_no, line in enumerate(text.splitlines(), 1):
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


def read_json_file(path: str | os.PathLike) -> Any:
    """A JSON file's content (a results file); a malformed one is a ``ValueError`` that names it."""
    try:
        return json.loads(Path(path).read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON ({err})") from None


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
    payload = read_json_file(results_path)
    if not isinstance(payload, Mapping):
        payload = {"results": payload}
    ckpt = checkpoint or payload.get("checkpoint")
    if ckpt is None:
        raise ValueError("no checkpoint: pass --checkpoint or put 'checkpoint' in the results JSON")
    ckpt_path = Path(ckpt)
    if not ckpt_path.exists() and is_bundled(str(ckpt)):  # a bundled name, as --model takes it
        ckpt_path = bundled_checkpoints()[str(ckpt)]
    elif not ckpt_path.is_absolute() and not ckpt_path.exists():
        ckpt_path = Path(results_path).parent / ckpt_path
        if not ckpt_path.exists():
            raise FileNotFoundError(f"checkpoint {str(ckpt)!r} not found: not a folder here, not a bundled checkpoint "
                                    f"({sorted(bundled_checkpoints())}) and not next to the results JSON")
    config = load_config(ckpt_path)
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


def load_config(folder: Path) -> PretrainedConfig:
    """The config of a checkpoint folder, with the library class of its ``model_type`` (its wing is imported)."""
    from transformers import AutoConfig

    path = Path(folder) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"not a checkpoint folder (config.json missing): {folder}")
    try:
        model_type = json.loads(path.read_text()).get("model_type")
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON: {err.msg} (line {err.lineno})") from err
    if model_type:
        model_entry(model_type)  # imports the wing that registers this config class with AutoConfig
    try:
        return AutoConfig.from_pretrained(str(folder))
    except (ValueError, TypeError, KeyError) as err:  # a value the config class refuses: say which file
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(f"{path} is not a valid {model_type or 'model'} config: {reason}") from err
