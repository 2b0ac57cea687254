"""Batching several datasets (different N and d) into padded tensors for :class:`CInAModel`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch


def pad_datasets(
    covariates: Sequence[np.ndarray],
    treatments: Sequence[np.ndarray],
    outcomes: Sequence[np.ndarray] | None = None,
    dtype: torch.dtype = torch.float32,
) -> dict[str, torch.Tensor]:
    """Pad a list of datasets to ``(B, N_max, d_max)``.

    Returns a dict with ``covariates``, ``treatment``, ``attention_mask`` (1 = real unit),
    ``feature_mask`` (1 = real covariate) and, when given, ``outcome`` -- the keyword arguments of
    :meth:`CInAModel.forward`. Padding is zeros; the masks keep it out of every computation.
    """
    if len(covariates) != len(treatments) or not covariates:
        raise ValueError("need the same positive number of covariate and treatment arrays")
    n_max = max(len(t) for t in treatments)
    d_max = max(np.asarray(x).reshape(len(t), -1).shape[1] for x, t in zip(covariates, treatments))
    batch = len(treatments)
    x_out = torch.zeros(batch, n_max, d_max, dtype=dtype)
    t_out = torch.zeros(batch, n_max, dtype=dtype)
    unit_mask = torch.zeros(batch, n_max, dtype=torch.bool)
    feat_mask = torch.zeros(batch, d_max, dtype=dtype)
    y_out = torch.zeros(batch, n_max, dtype=dtype) if outcomes is not None else None
    for b, (x, t) in enumerate(zip(covariates, treatments)):
        n = len(t)
        x = np.asarray(x, dtype=np.float64).reshape(n, -1)
        if x.shape[0] != n:
            raise ValueError(f"dataset {b}: {x.shape[0]} covariate rows but {n} treatments")
        x_out[b, :n, : x.shape[1]] = torch.as_tensor(x, dtype=dtype)
        t_out[b, :n] = torch.as_tensor(np.asarray(t, dtype=np.float64), dtype=dtype)
        unit_mask[b, :n] = True
        feat_mask[b, : x.shape[1]] = 1.0
        if y_out is not None:
            y_out[b, :n] = torch.as_tensor(np.asarray(outcomes[b], dtype=np.float64), dtype=dtype)
    batch_dict = {"covariates": x_out, "treatment": t_out, "attention_mask": unit_mask, "feature_mask": feat_mask}
    if y_out is not None:
        batch_dict["outcome"] = y_out
    return batch_dict


def pad_outcome_contexts(
    contexts: Sequence[Any],
    true_mu0: Sequence[np.ndarray] | None = None,
    true_mu1: Sequence[np.ndarray] | None = None,
    dtype: torch.dtype = torch.float32,
) -> dict[str, torch.Tensor]:
    """Pad :class:`~hf_causal.cina.outcome_features.OutcomeContext` s to one batch for the outcome network.

    Returns the keyword arguments of :meth:`InContextOutcomeNetwork.forward` (``covariates``, ``signs``, ``y``,
    ``kernel_mu``, ``kernel_residuals``, ``unit_features``, ``unit_mask``, ``feature_mask``) and, when the true
    surfaces are given (original units, one array per context), ``true_mu0`` / ``true_mu1`` standardised like
    each context's outcome.
    """
    if not contexts:
        raise ValueError("need at least one context")
    rows = max(len(c.signs) for c in contexts)
    d_max = max(c.x.shape[1] for c in contexts)
    n_feat = contexts[0].unit_features.shape[1]
    batch = len(contexts)
    out = {
        "covariates": torch.zeros(batch, rows, d_max, dtype=dtype),
        "signs": torch.zeros(batch, rows, dtype=dtype),
        "y": torch.zeros(batch, rows, dtype=dtype),
        "kernel_mu": torch.zeros(batch, rows, 2, dtype=dtype),
        "kernel_residuals": torch.zeros(batch, rows, dtype=dtype),
        "unit_features": torch.zeros(batch, rows, n_feat, dtype=dtype),
        "unit_mask": torch.zeros(batch, rows, dtype=torch.bool),
        "feature_mask": torch.zeros(batch, d_max, dtype=dtype),
    }
    truths = {"true_mu0": true_mu0, "true_mu1": true_mu1}
    for key, values in truths.items():
        if values is not None:
            out[key] = torch.zeros(batch, rows, dtype=dtype)
    for b, c in enumerate(contexts):
        r, d = len(c.signs), c.x.shape[1]
        out["covariates"][b, :r, :d] = torch.as_tensor(c.x, dtype=dtype)
        for key in ("signs", "y", "kernel_residuals"):
            out[key][b, :r] = torch.as_tensor(getattr(c, key), dtype=dtype)
        out["kernel_mu"][b, :r] = torch.as_tensor(c.kernel_mu, dtype=dtype)
        out["unit_features"][b, :r] = torch.as_tensor(c.unit_features, dtype=dtype)
        out["unit_mask"][b, :r] = True
        out["feature_mask"][b, :d] = 1.0
        for key, values in truths.items():
            if values is not None:
                out[key][b, :r] = torch.as_tensor((np.asarray(values[b]) - c.y_mean) / c.y_scale, dtype=dtype)
    return out
