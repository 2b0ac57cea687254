"""Supervised text scores: a text column reduced to cross-fitted estimates of what confounds through it.

A text confounds an effect only through what in it moves the treatment or the outcome. Principal components of a
sentence embedding (:func:`hf_causal.backbones.embed_text_columns`) keep what varies most across texts, which
need not be that: a topic named by a few words, or a score over many rare words, is lost in the leading
components. :func:`text_scores` instead learns, from the dataset's own treatments and outcomes, three numbers per
text and cross-fits them so that no text's scores saw its own treatment or outcome (docs/design.md §4.10):

- ``logit_t``: the log-odds of treatment (an L2 logistic regression, its penalty chosen by inner CV on log-loss);
- ``mu0`` / ``mu1``: the outcome in each arm, by whichever of two learners has the lower inner out-of-fold error
  on the fold's training texts of that arm (``outcome_learner="auto"``): a lasso (penalty by inner CV) with an
  isotonic map of its predictions fitted on inner out-of-fold predictions, or a latent-class model (the arm's
  outcomes split in two levels, an L1 logistic regression of the level on the words), which fits an outcome that
  moves in one step with the words, such as a confounder that is a threshold of a word count, where a linear
  score adds words that the rule lets one decide.

Both models read a binary bag of words (words of letters, lower-cased, seen in at least ``min_df`` texts). CInA
then balances the scores like any covariates and augments with its outcome model: a propensity score and a
prognostic score are each enough to adjust for a confounder they capture (balancing either removes its
bias), so the estimate needs one of them to be right, not both. No encoder and no GPU are needed; a corpus of a
few thousand texts takes seconds. ``benchmarks/results/text_identifiable.md`` measures it against embedding
components, CausalBERT and the engine.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "OUTCOME_LEARNERS",
    "TEXT_SCORE_NAMES",
    "TextScores",
    "bag_of_words",
    "scored_text_covariates",
    "text_scores",
    "two_level_split",
]

#: The score columns, in order (a text column ``c`` becomes ``c_logit_t``, ``c_mu0``, ``c_mu1``).
TEXT_SCORE_NAMES = ("logit_t", "mu0", "mu1")
#: Propensities are clipped to ``[PROPENSITY_CLIP, 1 - PROPENSITY_CLIP]`` before the log-odds are taken.
PROPENSITY_CLIP = 0.01
#: The fewest texts of each arm per cross-fitting fold: each arm's outcome model is fitted, with its own inner
#: 5-fold CV, on the other folds' texts of that arm.
MIN_ARM_TEXTS_PER_FOLD = 4
#: ``n_folds=None`` cross-fits with :data:`SMALL_CORPUS_FOLDS` folds below :data:`LARGE_CORPUS_TEXTS` texts (when
#: each arm has ``MIN_ARM_TEXTS_PER_FOLD`` texts per fold), else with :data:`DEFAULT_FOLDS`. In a small corpus each
#: fold's models then see 90% of the texts instead of 80%, and a rare confounding word is more often among them; from
#: a few thousand texts on, ten folds gained nothing and cost two to four times the time (docs/design.md §4.10).
DEFAULT_FOLDS = 5
SMALL_CORPUS_FOLDS = 10
LARGE_CORPUS_TEXTS = 2500
#: With ``progress=None`` a bar over the cross-fitting folds appears from this many texts on (about ten
#: seconds of fitting on one core; fewer finish before a bar would tell anything).
PROGRESS_MIN_TEXTS = 2500
#: Each arm's outcome learner: ``"lasso"`` (a lasso and an isotonic map), ``"latent_class"`` (two outcome levels
#: and an L1 logistic model of the level), or ``"auto"``, whichever of the two has the lower inner out-of-fold MSE
#: on the fold's training texts of that arm (docs/design.md §4.10). ``"pooled_latent_class"`` (one latent-class
#: model over both arms, the treatment a feature) is an evaluated option, not part of ``"auto"``; ``"auto_all"``
#: chooses among all three the same way (also evaluated and not the default: both gain on rare confounding words
#: and lose a little on a topic, ``benchmarks/results/text_learner_selection.md``). Each value maps to the learners
#: it chooses among.
_CANDIDATES: dict[str, tuple[str, ...]] = {
    "auto": ("lasso", "latent_class"),
    "lasso": ("lasso",),
    "latent_class": ("latent_class",),
    "pooled_latent_class": ("pooled_latent_class",),
    "auto_all": ("lasso", "latent_class", "pooled_latent_class"),
}
#: The ``outcome_learner`` values.
OUTCOME_LEARNERS = tuple(_CANDIDATES)
#: Inner cross-validation folds of the outcome learners (their penalties and held-out errors).
INNER_FOLDS = 5
#: The latent-class model needs this many of an arm's training texts at each outcome level (its inner CV needs
#: both levels in every fold); with fewer ``"auto"`` keeps the lasso.
MIN_LEVEL_TEXTS = 2 * INNER_FOLDS


@dataclass
class TextScores:
    """Cross-fitted scores of one text column (module docstring), one entry per text."""

    logit_t: np.ndarray
    mu0: np.ndarray
    mu1: np.ndarray
    vocabulary_size: int
    #: the cross-fitting folds used (``n_folds``, or the automatic choice when it was ``None``)
    n_folds: int = DEFAULT_FOLDS
    #: per arm (control, treated), how many cross-fitting folds used each outcome learner, e.g.
    #: ``({"latent_class": 10}, {"lasso": 7, "latent_class": 3})``
    learners_used: tuple[dict[str, int], dict[str, int]] = field(default_factory=lambda: ({}, {}))

    def frame(self, prefix: str = "text") -> pd.DataFrame:
        """The scores as a DataFrame with columns ``{prefix}_logit_t``, ``{prefix}_mu0``, ``{prefix}_mu1``."""
        return pd.DataFrame({f"{prefix}_{name}": getattr(self, name) for name in TEXT_SCORE_NAMES})


@contextmanager
def _quiet_nuisance_fits() -> Iterator[None]:
    """Silence scikit-learn's deprecation notices about its defaults and the lasso path's convergence notices at
    its smallest penalties (inner CV picks the penalty; an unconverged end of the path is not chosen)."""
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def bag_of_words(texts: Sequence[str], min_df: int = 2) -> Any:
    """Binary bag of words (scipy CSR, one row per text): words of letters, lower-cased, in ``>= min_df`` texts."""
    from sklearn.feature_extraction.text import CountVectorizer

    vectorizer = CountVectorizer(binary=True, min_df=min_df, token_pattern=r"(?u)\b[^\W\d_]+\b", dtype=np.float64)
    try:
        return vectorizer.fit_transform(list(texts))
    except ValueError as err:  # scikit-learn's "empty vocabulary" names neither the texts nor min_df
        raise ValueError(f"the texts have no word that appears in {min_df} or more of them: nothing to score") from err


@dataclass
class _ArmFit:
    """One outcome learner fitted on an arm's training texts: a predictor and its inner out-of-fold MSE."""

    predict: Callable[[Any], np.ndarray]
    held_out_mse: float


def _calibrated_lasso(features: Any, outcome: np.ndarray, seed: int) -> _ArmFit:
    """A lasso (penalty by 5-fold CV) followed by an isotonic map fitted on its inner out-of-fold predictions.

    The held-out MSE is that of the isotonic map applied out of fold too (the map refitted on four fifths of the
    held-out predictions), so that it can be compared with the latent-class model's.
    """
    from sklearn.isotonic import IsotonicRegression
    from sklearn.linear_model import Lasso, LassoCV
    from sklearn.model_selection import KFold, cross_val_predict

    inner = KFold(INNER_FOLDS, shuffle=True, random_state=seed)
    lasso = LassoCV(cv=inner, alphas=20, eps=1e-2, max_iter=2000).fit(features, outcome)
    held_out = cross_val_predict(Lasso(alpha=lasso.alpha_, max_iter=2000), features, outcome, cv=inner)
    iso = IsotonicRegression(out_of_bounds="clip").fit(held_out, outcome)
    mapped = cross_val_predict(IsotonicRegression(out_of_bounds="clip"), held_out, outcome, cv=inner)
    return _ArmFit(lambda rows: iso.predict(lasso.predict(rows)), float(np.mean((mapped - outcome) ** 2)))


def two_level_split(outcome: np.ndarray) -> np.ndarray:
    """The exact 1-D two-means split: 1 for the values above the threshold that minimises the within-group sum of
    squares (ties stay together), 0 below. All zeros when the values are all equal."""
    values = np.asarray(outcome, dtype=np.float64)
    order = np.sort(values)
    n = len(order)
    cuts = np.flatnonzero(np.diff(order) > 0) + 1  # sizes of the lower group at which a split separates values
    if len(cuts) == 0:
        return np.zeros(n, dtype=np.int64)
    prefix = np.cumsum(order)[cuts - 1]
    between = prefix**2 / cuts + (order.sum() - prefix) ** 2 / (n - cuts)  # maximal = least within-group SS
    k = int(cuts[np.argmax(between)])
    return (values >= order[k]).astype(np.int64)


def _l1_penalty(cv: bool = False) -> dict[str, Any]:
    """The keyword that makes scikit-learn's logistic regression L1-penalised: ``l1_ratio(s)`` where ``penalty``
    is deprecated (scikit-learn 1.8 on), ``penalty="l1"`` before."""
    import inspect

    from sklearn.linear_model import LogisticRegression

    if inspect.signature(LogisticRegression).parameters["penalty"].default == "deprecated":
        return {"l1_ratios": (1.0,)} if cv else {"l1_ratio": 1.0}
    return {"penalty": "l1"}


def _level_model(inputs: Any, level: np.ndarray, splits: list[Any], seed: int) -> tuple[Any, np.ndarray]:
    """An L1 logistic regression of ``level`` on ``inputs`` (penalty by CV on log-loss over ``splits``) and its
    out-of-fold probabilities of the upper level over the same splits."""
    from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
    from sklearn.model_selection import cross_val_predict

    logit = LogisticRegressionCV(Cs=8, cv=splits, solver="liblinear", scoring="neg_log_loss", random_state=seed,
                                 **_l1_penalty(cv=True)).fit(inputs, level)
    chosen = LogisticRegression(C=float(np.ravel(logit.C_)[0]), solver="liblinear", random_state=seed, **_l1_penalty())
    return logit, cross_val_predict(chosen, inputs, level, cv=splits, method="predict_proba")[:, 1]


def _mix(means: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """The two levels' means (``[..., 0]`` lower, ``[..., 1]`` upper) mixed by the probability of the upper one."""
    return means[..., 0] + (means[..., 1] - means[..., 0]) * upper


def _latent_class_model(features: Any, outcome: np.ndarray, seed: int) -> _ArmFit | None:
    """Two outcome levels and an L1 logistic model of which level a text is in (``None`` below
    :data:`MIN_LEVEL_TEXTS` texts at either level).

    The outcome is split in two at the exact two-means threshold (:func:`two_level_split`); an L1-penalised
    logistic regression on the words (penalty by inner CV on log-loss) gives each text its probability ``p`` of the
    upper level; the prediction is ``(1 - p) * lower mean + p * upper mean``. Where the words move the outcome in
    one step (a topic, a threshold of a word count) a logistic link fits that step and, unlike the linear fit,
    lets one word decide regardless of which other words the text has (docs/design.md §4.10).
    """
    from sklearn.model_selection import StratifiedKFold

    level = two_level_split(outcome)
    if min(level.sum(), len(level) - level.sum()) < MIN_LEVEL_TEXTS:
        return None
    means = np.array([outcome[level == 0].mean(), outcome[level == 1].mean()])
    splits = list(StratifiedKFold(INNER_FOLDS, shuffle=True, random_state=seed).split(features, level))
    logit, held_out = _level_model(features, level, splits, seed)
    return _ArmFit(lambda rows: _mix(means, logit.predict_proba(rows)[:, 1]),
                   float(np.mean((_mix(means, held_out) - outcome) ** 2)))


def _pooled_latent_class_models(features: Any, outcome: np.ndarray, treatment: np.ndarray,
                                seed: int) -> tuple[_ArmFit, _ArmFit] | None:
    """One latent-class model over both arms: each arm's outcomes split in two levels (:func:`two_level_split`),
    one L1 logistic regression of the level on the words and the treatment, and per arm a predictor mixing that
    arm's two level means (``None`` below :data:`MIN_LEVEL_TEXTS` texts at a level of either arm).

    Where the same words set the level in both arms, a word seen only among one arm's training texts still
    informs the other arm's score. The held-out MSE of each arm is over its own texts, from inner out-of-fold
    probabilities of the pooled model.
    """
    import scipy.sparse as sp
    from sklearn.model_selection import StratifiedKFold

    level, means = np.empty(len(outcome), dtype=np.int64), np.empty((2, 2))
    for arm in (0, 1):
        rows = treatment == arm
        level[rows] = two_level_split(outcome[rows])
        if min(level[rows].sum(), rows.sum() - level[rows].sum()) < MIN_LEVEL_TEXTS:
            return None
        means[arm] = [outcome[rows][level[rows] == 0].mean(), outcome[rows][level[rows] == 1].mean()]

    def with_arm(rows: Any, arm: np.ndarray) -> Any:
        return sp.hstack([sp.csr_matrix(rows), sp.csr_matrix(arm.reshape(-1, 1).astype(np.float64))]).tocsr()

    inputs = with_arm(features, treatment)
    strata = 2 * level + treatment  # every inner fold holds both levels of both arms
    splits = list(StratifiedKFold(INNER_FOLDS, shuffle=True, random_state=seed).split(inputs, strata))
    logit, held_out = _level_model(inputs, level, splits, seed)
    fitted = _mix(means[treatment], held_out)
    fits = []
    for arm in (0, 1):
        rows = treatment == arm

        def predict(new_rows: Any, arm: int = arm) -> np.ndarray:
            return _mix(means[arm], logit.predict_proba(with_arm(new_rows, np.full(new_rows.shape[0], arm)))[:, 1])

        fits.append(_ArmFit(predict, float(np.mean((fitted[rows] - outcome[rows]) ** 2))))
    return fits[0], fits[1]


def _arm_outcome_model(features: Any, outcome: np.ndarray, seed: int, learner: str,
                       pooled: _ArmFit | None = None) -> tuple[_ArmFit, str]:
    """The arm's outcome model under ``learner`` and the name of the one used: each of the learner's candidates
    (:data:`_CANDIDATES`) that can be fitted, the one with the lowest inner out-of-fold MSE on these training
    texts; the lasso when none can (too few texts at a level). ``pooled`` is the arm's part of the model fitted
    over both arms, or ``None``."""
    fits: dict[str, _ArmFit] = {}
    for name in _CANDIDATES[learner]:
        if name == "lasso":
            fit: _ArmFit | None = _calibrated_lasso(features, outcome, seed)
        elif name == "latent_class":
            fit = _latent_class_model(features, outcome, seed)
        else:
            fit = pooled
        if fit is not None:
            fits[name] = fit
    if not fits:
        fits["lasso"] = _calibrated_lasso(features, outcome, seed)
    name = min(fits, key=lambda k: fits[k].held_out_mse)
    return fits[name], name


def text_scores(
    texts: Sequence[str],
    treatment: Any,
    outcome: Any,
    n_folds: int | None = None,
    seed: int = 0,
    min_df: int = 2,
    progress: bool | None = None,
    outcome_learner: str = "auto",
) -> TextScores:
    """Cross-fitted treatment log-odds and per-arm outcome predictions of each text (module docstring).

    Args:
        texts: one string per unit.
        treatment: 0/1 per unit.
        outcome: a number per unit.
        n_folds: cross-fitting folds: each text's scores come from models fitted on the other folds. ``None``
            (default): 10 below :data:`LARGE_CORPUS_TEXTS` (2,500) texts when each arm has at least
            ``MIN_ARM_TEXTS_PER_FOLD * 10`` texts, else 5.
        seed: the folds' (and the inner CV's) randomness.
        min_df: a word enters the bag of words when at least this many texts contain it.
        progress: a progress bar over the folds; ``None`` shows one from :data:`PROGRESS_MIN_TEXTS` texts on.
        outcome_learner: each arm's outcome model, one of :data:`OUTCOME_LEARNERS`; ``"auto"`` (default) chooses
            in each fold between the lasso and the latent-class model by their inner out-of-fold MSE, so the choice
            never sees the held-out fold either.
            ``"pooled_latent_class"`` fits one latent-class model over both arms' training texts (the treatment a
            feature) and gives each arm its own two level means; ``"auto_all"`` chooses among the lasso and both
            latent-class models. Both are options, evaluated and not the default (docs/design.md §4.10).

    Returns:
        :class:`TextScores`.

    Raises:
        ValueError: a missing, empty or blank text, a treatment that is not 0/1 or an outcome that is not finite
            (each naming the row), lengths that differ, an arm with fewer than
            ``MIN_ARM_TEXTS_PER_FOLD * n_folds`` texts, or no word in ``min_df`` texts.
        TypeError: a text that is not a string (naming the row), or a non-numeric outcome.
    """
    from sklearn.linear_model import LogisticRegressionCV

    from ..backbones.text_encoder import validate_texts
    from ..core.folds import arm_stratified_folds
    from ..data.inputs import validate_outcome, validate_treatment

    if outcome_learner not in OUTCOME_LEARNERS:
        raise ValueError(f"outcome_learner must be one of {OUTCOME_LEARNERS}, got {outcome_learner!r}")
    if n_folds is not None and (isinstance(n_folds, bool) or not isinstance(n_folds, int) or n_folds < 2):
        raise ValueError(f"n_folds must be None or an integer >= 2, got {n_folds!r}")
    items = validate_texts(texts)
    t = validate_treatment(treatment, len(items))
    y = validate_outcome(outcome, len(items))
    if n_folds is None:
        smaller_arm = int(min(t.sum(), len(t) - t.sum()))
        small = len(t) < LARGE_CORPUS_TEXTS and smaller_arm >= MIN_ARM_TEXTS_PER_FOLD * SMALL_CORPUS_FOLDS
        n_folds = SMALL_CORPUS_FOLDS if small else DEFAULT_FOLDS
    for arm, name in ((1, "treated"), (0, "control")):
        count = int((t == arm).sum())
        if count < MIN_ARM_TEXTS_PER_FOLD * n_folds:
            raise ValueError(
                f"{count} {name} texts are too few for {n_folds}-fold text scores: each arm needs at least "
                f"{MIN_ARM_TEXTS_PER_FOLD * n_folds} (or use fewer folds, or embedding components)"
            )
    features = bag_of_words(items, min_df)
    fold = arm_stratified_folds(t, n_folds, seed)
    propensity, mu = np.empty(len(t)), np.empty((2, len(t)))
    used: tuple[dict[str, int], dict[str, int]] = ({}, {})
    show = len(items) >= PROGRESS_MIN_TEXTS if progress is None else bool(progress)
    folds: Any = range(n_folds)
    if show:
        from tqdm.auto import tqdm

        folds = tqdm(folds, desc="text scores", unit="fold")
    for k in folds:
        test, train = np.flatnonzero(fold == k), np.flatnonzero(fold != k)
        with _quiet_nuisance_fits():
            logit = LogisticRegressionCV(Cs=8, cv=3, max_iter=3000, scoring="neg_log_loss").fit(features[train], t[train])
            propensity[test] = logit.predict_proba(features[test])[:, 1]
            pooled = (_pooled_latent_class_models(features[train], y[train], t[train], seed + k)
                      if "pooled_latent_class" in _CANDIDATES[outcome_learner] else None)
            for arm in (0, 1):
                rows = train[t[train] == arm]
                fit, name = _arm_outcome_model(features[rows], y[rows], seed + k, outcome_learner,
                                               None if pooled is None else pooled[arm])
                mu[arm, test] = fit.predict(features[test])
                used[arm][name] = used[arm].get(name, 0) + 1
    p = np.clip(propensity, PROPENSITY_CLIP, 1 - PROPENSITY_CLIP)
    return TextScores(logit_t=np.log(p / (1 - p)), mu0=mu[0], mu1=mu[1], vocabulary_size=int(features.shape[1]),
                      n_folds=n_folds, learners_used=used)


#: A string column with at most this many distinct values (or a tenth of the rows, if fewer) looks like a category
#: when ``text_features="scores"`` takes every string column for text.
FEW_TEXTS = 20


def scored_text_covariates(
    covariates: Any,
    treatment: Any,
    outcome: Any,
    columns: str | Sequence[str] | None = None,
    seed: int = 0,
    progress: bool | None = None,
) -> pd.DataFrame:
    """Covariates with each text column replaced by its :func:`text_scores` (``c_logit_t``, ``c_mu0``, ``c_mu1``).

    ``covariates`` is a DataFrame (text columns: ``columns``, default every string column; other columns are
    kept) or a sequence of texts, taken as one column ``text``. Errors are :func:`text_scores`'s, naming the
    column. ``progress`` is :func:`text_scores`'s, one bar per column.
    """
    from ..backbones.text_encoder import as_text_frame, text_column_names

    covariates = as_text_frame(covariates)
    named = columns is not None
    columns = text_column_names(covariates, columns)
    if not named:
        # every string column is taken for text; one with a handful of repeated values is more likely a category,
        # which one-hot encoding keeps whole where word scores would blur it
        few = [str(c) for c in columns if covariates[c].nunique() <= max(2, min(FEW_TEXTS, len(covariates) // 10))]
        if few:
            warnings.warn(f"text_features='scores' scores every string column as text, and {few[:5]} take only a few "
                          "repeated values (categories?): name the free-text columns with text_columns= so that the "
                          "others are one-hot encoded", UserWarning, stacklevel=3)
    pieces = []
    for col in columns:
        try:
            scores = text_scores(covariates[col].tolist(), treatment, outcome, seed=seed, progress=progress)
        except (ValueError, TypeError) as err:  # the same error, naming the column
            raise type(err)(f"text column {col!r}: {err}") from err
        pieces.append(scores.frame(str(col)).set_axis(covariates.index))
    return pd.concat([covariates.drop(columns=list(columns)), *pieces], axis=1)
