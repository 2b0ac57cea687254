"""Plug-in and doubly robust (AIPW) ATT from nuisance predictions: a propensity and two outcome models.

Whoever fits the nuisances (the causal engine's exact ``predict_proba`` / ``predict_mean``, a CausalBERT-style
text model, any regressor) turns them into effect estimates here, so every such method scores the same way.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .results import EffectEstimate

#: The two estimates :func:`att_estimates` returns, by key.
ATT_ESTIMATORS = ("aipw", "plugin")


def att_estimates(
    treatment: Any,
    outcome: Any,
    propensity: Any,
    q0: Any,
    q1: Any,
    clip: float = 0.01,
    n_folds: int = 1,
    method: str = "",
) -> dict[str, EffectEstimate]:
    """Plug-in and AIPW ATT from propensity and outcome-model predictions, one per unit.

    ``plugin = mean_{T=1}(Q1 - Q0)``. ``aipw = mean_{T=1}(Y - Q0) - sum_{T=0} w (Y - Q0) / sum_{T=0} w`` with
    odds weights ``w = g / (1 - g)`` (``g`` clipped to ``[clip, 1 - clip]``); normalising the control weights
    (Hajek form) keeps it stable when a few propensities are near 1. The score is the efficient influence
    function of the ATT, so a small error in ``Q0`` is corrected by ``g`` and vice versa.

    Args:
        treatment, outcome: ``(N,)`` observed 0/1 treatment and outcome.
        propensity: ``(N,)`` predicted ``P(T=1 | x)``.
        q0, q1: ``(N,)`` predicted ``E[Y | T=0, x]`` and ``E[Y | T=1, x]``.
        clip: propensity clipping in the AIPW score.
        n_folds: ``1`` for in-sample nuisances, ``k`` for ``k``-fold cross-fitted ones (said in ``method``).
        method: prefix of the estimates' ``method`` (e.g. ``"causalbert"`` gives ``"causalbert-aipw"``).

    Returns:
        ``{"aipw": EffectEstimate, "plugin": EffectEstimate}`` (``estimand="att"``, no interval).
    """
    t = np.asarray(treatment, dtype=np.float64)
    y = np.asarray(outcome, dtype=np.float64)
    g = np.clip(np.asarray(propensity, dtype=np.float64), clip, 1.0 - clip)
    q0 = np.asarray(q0, dtype=np.float64)
    q1 = np.asarray(q1, dtype=np.float64)
    shapes = {a.shape for a in (t, y, g, q0, q1)}
    if len(shapes) != 1 or t.ndim != 1:
        raise ValueError(f"treatment, outcome, propensity, q0 and q1 must be 1-D of one length, got {sorted(shapes)}")
    treated = t == 1
    if not treated.any() or treated.all():
        raise ValueError("the ATT needs both treated and control units")
    resid = y - q0
    w = (1.0 - t) * g / (1.0 - g)
    values = {
        "aipw": resid[treated].mean() - np.sum(w * resid) / w.sum(),
        "plugin": (q1 - q0)[treated].mean(),
    }
    folds = "" if n_folds == 1 else f" ({n_folds}-fold cross-fitted)"
    return {
        key: EffectEstimate(
            float(values[key]), estimand="att", method=(f"{method}-{key}" if method else key) + folds, n=len(t)
        )
        for key in ATT_ESTIMATORS
    }
