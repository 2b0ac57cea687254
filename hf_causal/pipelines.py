"""A transformers ``pipeline`` task for treatment-effect estimation: ``"treatment-effect"``.

Importing this module registers the task with ``transformers.pipelines.PIPELINE_REGISTRY``::

    import hf_causal.pipelines  # registers "treatment-effect"
    from transformers import pipeline

    estimator = pipeline("treatment-effect", model="path/or/hub-id")
    result = estimator(frame, treatment="treat", outcome="re78", estimand="att")
    result.value, result.ci_low, result.ci_high          # an EffectEstimate
    estimator((X, T, Y), return_dict=True)               # its JSON-ready dict

:func:`pipeline` does the same and also accepts the bundled checkpoint name (``"cina-zs-base"``), offline.
``transformers.pipeline`` resolves a bare name on the Hub before any hf-causal code runs, so it takes a folder
(``hf_causal.hub.bundled_checkpoints()["cina-zs-base"]`` is the bundled one) or a Hub id, never a bundled name.
Importing this module registers every hf-causal model type, so a folder loads with the library's classes, without
a trust-remote-code prompt.

Inputs (one dataset per call; a list of them gives a list of results):

* a ``pandas.DataFrame`` with ``treatment=`` and ``outcome=`` column names (``covariates=``: default all other
  columns);
* a dict ``{"data": frame, "treatment": col, "outcome": col[, "covariates": cols]}``, or
  ``{"X": ..., "T": ..., "Y": ...}`` (also ``covariates``/``treatment``/``outcome`` as arrays);
* a tuple ``(X, T, Y)`` of arrays/frames.

Call options: ``estimand`` (``"ate"``, ``"att"``, ``"atc"``, ``"overlap"``), ``method`` (``"cina-zs"`` or
``"cina"``), extra ``estimate_kwargs`` for the model's ``estimate``, and ``return_dict``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from transformers import AutoModel, Pipeline, PreTrainedModel
from transformers.pipelines import PIPELINE_REGISTRY

from .core.options import DEFAULT_ESTIMAND, DEFAULT_METHOD
from .hub import bundled_checkpoints, load_checkpoint, registered_models, resolve_checkpoint

__all__ = ["DEFAULT_MODEL", "TASK", "TreatmentEffectPipeline", "pipeline"]

TASK = "treatment-effect"
#: The checkpoint ``pipeline()`` loads when given none (bundled with the package).
DEFAULT_MODEL = "cina-zs-base"


def _resolve_columns(frame: Any, treatment: Any, outcome: Any, covariates: Any) -> tuple[Any, Any, Any]:
    from .cina.inputs import split_frame

    if not isinstance(treatment, str) or not isinstance(outcome, str):
        raise ValueError("a DataFrame input needs treatment= and outcome= column names")
    return split_frame(frame, treatment, outcome, covariates)


class TreatmentEffectPipeline(Pipeline):
    """Estimate a treatment effect on one dataset per call with a model that has ``estimate(X, T, Y)``.

    The model (a CInA checkpoint) computes balancing weights in one forward pass (``method="cina-zs"``) or
    by per-dataset optimisation (``method="cina"``); the result is an
    :class:`~hf_causal.core.results.EffectEstimate` (or its ``to_dict()`` with ``return_dict=True``).
    """

    _load_tokenizer = False
    _load_image_processor = False
    _load_video_processor = False
    _load_feature_extractor = False
    _load_processor = False

    def __init__(self, model: PreTrainedModel, *args: Any, **kwargs: Any) -> None:
        if not callable(getattr(model, "estimate", None)):
            raise TypeError(
                f"the {TASK!r} pipeline needs a model with an estimate(X, T, Y) method (e.g. CInAModel), "
                f"got {type(model).__name__}"
            )
        super().__init__(model, *args, **kwargs)

    def _sanitize_parameters(
        self,
        treatment: str | None = None,
        outcome: str | None = None,
        covariates: Sequence[str] | None = None,
        estimand: str | None = None,
        method: str | None = None,
        estimate_kwargs: Mapping[str, Any] | None = None,
        return_dict: bool | None = None,
        **kwargs: Any,
    ) -> tuple[dict, dict, dict]:
        if kwargs:
            raise TypeError(f"unexpected arguments for the {TASK!r} pipeline: {sorted(kwargs)}")
        pre = {k: v for k, v in (("treatment", treatment), ("outcome", outcome), ("covariates", covariates)) if v}
        fwd: dict[str, Any] = {}
        if estimand is not None:
            fwd["estimand"] = estimand
        if method is not None:
            fwd["method"] = method
        if estimate_kwargs:
            fwd["estimate_kwargs"] = dict(estimate_kwargs)
        post = {} if return_dict is None else {"return_dict": bool(return_dict)}
        return pre, fwd, post

    def preprocess(
        self,
        inputs: Any,
        treatment: str | None = None,
        outcome: str | None = None,
        covariates: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """Covariates, treatment and outcome from a DataFrame, a ``{"data": ...}`` or ``{X, T, Y}`` dict, or a tuple."""
        import pandas as pd

        if isinstance(inputs, pd.DataFrame):
            x, t, y = _resolve_columns(inputs, treatment, outcome, covariates)
        elif isinstance(inputs, Mapping):
            if "data" in inputs:
                x, t, y = _resolve_columns(
                    inputs["data"],
                    inputs.get("treatment", treatment),
                    inputs.get("outcome", outcome),
                    inputs.get("covariates", covariates),
                )
            else:
                try:
                    x = inputs["X"] if "X" in inputs else inputs["covariates"]
                    t = inputs["T"] if "T" in inputs else inputs["treatment"]
                    y = inputs["Y"] if "Y" in inputs else inputs["outcome"]
                except KeyError as err:
                    raise ValueError(
                        "a dict input needs 'data' (+ column names) or 'X', 'T' and 'Y' arrays"
                    ) from err
        elif isinstance(inputs, tuple) and len(inputs) == 3:
            x, t, y = inputs
        else:
            raise ValueError(
                "input must be a DataFrame (with treatment=/outcome= names), a dict, or an (X, T, Y) tuple; "
                f"got {type(inputs).__name__}"
            )
        return {"covariates": x, "treatment": t, "outcome": y}

    def _forward(
        self,
        model_inputs: dict[str, Any],
        estimand: str = DEFAULT_ESTIMAND,
        method: str = DEFAULT_METHOD,
        estimate_kwargs: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        # Pipeline runs _forward under no_grad; per-dataset optimisation ("cina") needs gradients.
        context = torch.enable_grad() if method == "cina" else torch.no_grad()
        with context:
            estimate = self.model.estimate(
                model_inputs["covariates"],
                model_inputs["treatment"],
                model_inputs["outcome"],
                estimand=estimand,
                method=method,
                **dict(estimate_kwargs or {}),
            )
        return {"estimate": estimate}

    def postprocess(self, model_outputs: dict[str, Any], return_dict: bool = False) -> Any:
        """The ``EffectEstimate``, or its ``to_dict()`` with ``return_dict=True``."""
        estimate = model_outputs["estimate"]
        return estimate.to_dict() if return_dict else estimate


# ``transformers.pipeline(TASK)`` without a model gets the bundled checkpoint's folder (offline, no Hub lookup)
_bundled = bundled_checkpoints().get(DEFAULT_MODEL)
PIPELINE_REGISTRY.register_pipeline(TASK, pipeline_class=TreatmentEffectPipeline, pt_model=AutoModel, type="multimodal",
                                    default=None if _bundled is None else {"model": (str(_bundled), "main")})
# Every wing's model types with the Auto classes, so that ``transformers.pipeline(TASK, model=FOLDER)`` loads an
# hf-causal folder with the library's classes: its config.json also names remote code (auto_map), which
# transformers would otherwise ask to trust, interactively.
registered_models()


def pipeline(
    task: str = TASK,
    model: PreTrainedModel | str | os.PathLike | None = None,
    **kwargs: Any,
) -> TreatmentEffectPipeline:
    """``transformers.pipeline`` for the ``"treatment-effect"`` task, also accepting bundled names.

    Args:
        task: must be ``"treatment-effect"``.
        model: a model instance, a local checkpoint folder, a Hub id, or a bundled name
            (``"cina-zs-base"``, the default). Folders and bundled names load with the library's classes.
        kwargs: passed to ``transformers.pipeline`` (``device``, ``trust_remote_code``, ``revision`` ...).
    """
    from transformers import pipeline as hf_pipeline

    if task != TASK:
        raise ValueError(f"hf_causal.pipeline supports the {TASK!r} task only, got {task!r}")
    if model is None:
        model = DEFAULT_MODEL
    if isinstance(model, (str, os.PathLike)):
        name = resolve_checkpoint(model)
        if os.path.isdir(name):  # a bundled name or a local folder: the library's classes, offline, no prompt
            model = load_checkpoint(name)
        else:  # a Hub id, which resolve_checkpoint found on the Hub or in its cache
            model = name
    return hf_pipeline(task, model=model, **kwargs)
