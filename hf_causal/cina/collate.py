"""Batching several datasets (different N and d) into padded tensors for :class:`CInAModel`."""

from __future__ import annotations

from collections.abc import Sequence

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
