"""The text benchmark's estimators that need no engine: naive, DML on text features or on the true confounder,
CausalBERT, CInA on text encodings; and the score every row is judged by (docs/design.md §9.8).

Each ``*_att`` function takes one simulated dataset (features or texts, treatment ``t``, outcome ``y``) and returns
an ATT estimate; the benchmark script (``benchmarks/text_benchmark.py``) decides which runs where. The oracle rows
are the same estimators given the true confounder ``C`` as their only covariate: what adjustment achieves when
the confounder is known, the floor a text method can reach on an identifiable variant.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "att_aipw",
    "bias_removed",
    "causal_bert_model",
    "cina_att",
    "dml_att",
    "embeddings",
    "folds",
    "linear_aipw_att",
    "naive_att",
]


def benchmark_texts(frame: Any, n: int | None, corpus: str, rule: str, max_words: int = 32) -> Any:
    """The benchmark's texts of one corpus: ``n`` drawn once with seed 0 (``None``: every text), cut to
    ``max_words`` words, with the ``rule``'s confounder in ``label`` (every text script draws them this way)."""
    from hf_causal.data.text_confounders import with_text_confounder

    if n is not None:
        if not 1 <= n <= len(frame):
            raise ValueError(f"{n} texts asked of corpus {corpus!r}, which has {len(frame)}")
        frame = frame.iloc[np.sort(np.random.default_rng(0).choice(len(frame), size=n, replace=False))]
    return with_text_confounder(frame.reset_index(drop=True), rule, corpus, max_words)


def bias_removed(estimate: float, naive: float, truth: float) -> float:
    """Share of the naive contrast's bias an estimate removes: ``1 - |estimate - truth| / |naive - truth|``.

    1 is the truth, 0 is no better than the naive contrast, negative is worse than it. Undefined (``nan``)
    when the naive contrast is exactly right.
    """
    gap = abs(naive - truth)
    return float("nan") if gap == 0 else float(1.0 - abs(estimate - truth) / gap)


def naive_att(t: np.ndarray, y: np.ndarray) -> float:
    """Difference in means."""
    return float(y[t == 1].mean() - y[t == 0].mean())


def att_aipw(t: np.ndarray, y: np.ndarray, e: np.ndarray, m0: np.ndarray) -> float:
    """Doubly-robust ATT from cross-fitted propensity ``e`` (clipped to [0.01, 0.95]) and control-outcome ``m0``."""
    e = np.clip(e, 0.01, 0.95)
    resid = y - m0
    w = (1 - t) * e / (1 - e)  # odds weights on the controls, normalised (Hajek form) for stability
    return float(resid[t == 1].mean() - np.sum(w * resid) / w.sum())


def folds(n: int, k: int, seed: int) -> list[np.ndarray]:
    """Random split of ``range(n)`` into ``k`` folds."""
    return np.array_split(np.random.default_rng(seed).permutation(n), k)


def _linear_nuisances(features: np.ndarray, t: np.ndarray, y: np.ndarray) -> tuple[Any, Any]:
    """Propensity and outcome learners with penalties chosen once by CV on the observed T and Y."""
    from sklearn.linear_model import LogisticRegression, LogisticRegressionCV, Ridge, RidgeCV

    c = LogisticRegressionCV(Cs=np.logspace(-1, 2, 4), cv=3, max_iter=2000).fit(features, t).C_[0]
    alpha = RidgeCV(alphas=np.logspace(-2, 2, 9)).fit(features[t == 0], y[t == 0]).alpha_
    return LogisticRegression(C=c, max_iter=2000), Ridge(alpha=alpha)


def linear_aipw_att(features: np.ndarray, t: np.ndarray, y: np.ndarray, seed: int, n_folds: int = 5) -> float:
    """DML for the ATT: cross-fitted logistic propensity and ridge control-outcome models in the ATT-AIPW score."""
    from sklearn.base import clone

    model_t, model_y = _linear_nuisances(features, t, y)
    e, m0 = np.zeros(len(t)), np.zeros(len(t))
    for test in folds(len(t), n_folds, seed):
        train = np.setdiff1d(np.arange(len(t)), test)
        e[test] = clone(model_t).fit(features[train], t[train]).predict_proba(features[test])[:, 1]
        ctrl = train[t[train] == 0]
        m0[test] = clone(model_y).fit(features[ctrl], y[ctrl]).predict(features[test])
    return att_aipw(t, y, e, m0)


def dml_att(features: np.ndarray, t: np.ndarray, y: np.ndarray, seed: int) -> float:
    """EconML ``LinearDML`` with the features as controls W and no effect modifiers (constant effect).

    ``LinearDML`` residualises Y and T on W (5-fold cross-fitting) and regresses residual on residual. With a
    constant effect that is the ATT; under effect heterogeneity it would be a variance-weighted ATE instead,
    which is why :func:`linear_aipw_att` (the ATT score) is kept beside it.
    """
    from econml.dml import LinearDML
    from sklearn.linear_model import LogisticRegressionCV, RidgeCV

    est = LinearDML(
        model_y=RidgeCV(alphas=np.logspace(-2, 2, 9)),
        model_t=LogisticRegressionCV(Cs=np.logspace(-1, 2, 4), cv=3, max_iter=2000),
        discrete_treatment=True,
        cv=5,
        random_state=seed,
    )
    est.fit(y, t, X=None, W=features)
    return float(np.ravel(est.intercept_)[0])


def cina_att(model: Any, covariates: np.ndarray, t: np.ndarray, y: np.ndarray, method: str) -> float:
    """``CInAModel.estimate(..., estimand="att")``: zero-shot (``"cina-zs"``) or per dataset (``"cina"``)."""
    import warnings

    with warnings.catch_warnings():  # a one-covariate oracle can trip the overlap warning; the number is kept
        warnings.simplefilter("ignore")
        return float(model.estimate(covariates, t, y, estimand="att", method=method).value)


def scored_text(texts: list[str], t: np.ndarray, y: np.ndarray, seed: int,
                outcome_learner: str = "auto") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The text's cross-fitted scores (``hf_causal.cina.text_scores``) as CInA's covariates, with the propensity
    and the control-outcome score the ATT-AIPW formula reads."""
    from hf_causal.cina.text_scores import text_scores

    scores = text_scores(texts, t, y, seed=seed, outcome_learner=outcome_learner)
    covariates = np.column_stack([scores.logit_t, scores.mu0, scores.mu1])
    return covariates, 1.0 / (1.0 + np.exp(-scores.logit_t)), scores.mu0


def text_score_atts(model: Any, texts: list[str], t: np.ndarray, y: np.ndarray, seed: int) -> dict[str, float]:
    """The text's cross-fitted scores once, then three ATTs on them: CInA zero-shot and per dataset on the scores
    as covariates (what ``text_features="scores"`` runs), and the ATT-AIPW score with the scores' own nuisances (the
    same models without CInA's weights)."""
    covariates, propensity, mu0 = scored_text(texts, t, y, seed)
    return {"cina_zs_scores": cina_att(model, covariates, t, y, "cina-zs"),
            "cina_scores": cina_att(model, covariates, t, y, "cina"),
            "scores_aipw": att_aipw(t, y, propensity, mu0)}


def causal_bert_model(encoder_name: str, **config: Any) -> Any:
    """A :class:`~harness.causal_bert.CausalBertModel` over the offline MiniLM (reused across fits: its cache stays)."""
    from .causal_bert import CausalBertConfig, CausalBertModel

    return CausalBertModel.from_pretrained(encoder_name, config=CausalBertConfig(**config))


def embeddings(texts: list[str], cache: Path, max_length: int) -> np.ndarray:
    """MiniLM embeddings of ``texts`` (cached as .npy)."""
    if cache.is_file():
        emb = np.load(cache)
        if len(emb) == len(texts):
            return emb
    from hf_causal.backbones import TextEncoder

    enc = TextEncoder.from_pretrained("all-MiniLM-L6-v2", max_length=max_length)
    emb = enc.encode(texts, batch_size=64, progress=False)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.save(cache, emb)
    return emb
