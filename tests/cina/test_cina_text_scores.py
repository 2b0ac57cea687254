"""Scored texts (``text_features="scores"``, :mod:`hf_causal.cina.text_scores`): a confounder named by words in the
text is adjusted away (known simulated effect), the scores are cross-fitted (a row's scores never see its own
outcome), and bad input is an error naming the row, the column or the arm."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from hf_causal.cina import CInAModel
from hf_causal.cina import text_scores as text_scores_module
from hf_causal.cina.text_scores import (
    MIN_ARM_TEXTS_PER_FOLD,
    bag_of_words,
    scored_text_covariates,
    text_scores,
)
from hf_causal.cli import main

FILLER = ["the", "a", "plot", "actor", "scene", "story", "music", "ending", "cast", "script", "was", "is", "very",
          "quite", "long", "short", "new", "old", "first", "last"]
TOPIC = ["movie", "film"]  # the confounder: the text mentions either word
TRUE_EFFECT = 1.0


def corpus(n: int, seed: int) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Texts whose confounder C (a topic word present) moves treatment (0.6 vs 0.15) and outcome (+4)."""
    rng = np.random.default_rng(seed)
    c = rng.random(n) < 0.4
    texts = [" ".join([*rng.choice(FILLER, 8), *([rng.choice(TOPIC)] if ci else [])]) for ci in c]
    t = (rng.random(n) < np.where(c, 0.6, 0.15)).astype(int)
    y = TRUE_EFFECT * t + 4.0 * c + rng.normal(0, 1, n)
    return texts, t, y, c


@pytest.fixture(scope="module")
def model() -> CInAModel:
    return CInAModel.from_pretrained("cina-zs-base")


@pytest.mark.parametrize("estimand", ["att", "ate"])
def test_scores_remove_the_confounding_a_word_carries(model, estimand) -> None:
    texts, t, y, _ = corpus(800, seed=1)
    naive = y[t == 1].mean() - y[t == 0].mean()
    assert naive - TRUE_EFFECT > 1.5  # the bias to remove
    est = model.estimate(pd.DataFrame({"review": texts}), t, y, estimand=estimand, text_features="scores")
    assert abs(est.value - TRUE_EFFECT) < 0.1 * (naive - TRUE_EFFECT)
    assert est.ci_low < TRUE_EFFECT < est.ci_high
    assert list(est.balance.index) == ["review_logit_t", "review_mu0", "review_mu1"]


def test_outcome_scores_separate_the_confounder(model) -> None:
    """Each arm's outcome score recovers the confounder's +4 step (within 10%), the propensity its direction."""
    texts, t, y, c = corpus(800, seed=2)
    s = text_scores(texts, t, y, seed=0)
    for mu in (s.mu0, s.mu1 - TRUE_EFFECT):
        assert mu[c].mean() - mu[~c].mean() == pytest.approx(4.0, rel=0.1)
    assert s.logit_t[c].mean() > s.logit_t[~c].mean() + 1.0
    assert s.vocabulary_size == len(set(FILLER) | set(TOPIC))


def test_scores_are_cross_fitted() -> None:
    """A row's scores come from models fitted on the other folds: changing its outcome leaves them unchanged (and
    changes the scores of rows in other folds, whose models did see it)."""
    texts, t, y, _ = corpus(300, seed=3)
    before = text_scores(texts, t, y, seed=5)
    for row in (0, int(np.flatnonzero(t == 1)[0])):  # a control's and a treated unit's outcome
        y2 = y.copy()
        y2[row] += 50.0
        after = text_scores(texts, t, y2, seed=5)
        for name in ("mu0", "mu1"):
            assert getattr(before, name)[row] == getattr(after, name)[row]
        assert not np.allclose(before.mu0 if t[row] == 0 else before.mu1, after.mu0 if t[row] == 0 else after.mu1)
        assert np.array_equal(before.logit_t, after.logit_t)  # the propensity never sees outcomes


def test_progress_bar_over_the_folds_changes_nothing(capsys) -> None:
    """``progress=True`` draws one bar step per fold on stderr; the scores are those of a quiet run."""
    texts, t, y, _ = corpus(200, seed=6)
    quiet = text_scores(texts, t, y, seed=1, n_folds=3)
    assert "text scores" not in capsys.readouterr().err  # 200 texts: below the automatic threshold
    shown = text_scores(texts, t, y, seed=1, n_folds=3, progress=True)
    assert "3/3" in capsys.readouterr().err
    for name in ("logit_t", "mu0", "mu1"):
        assert np.array_equal(getattr(quiet, name), getattr(shown, name))


def test_texts_only_and_other_columns_kept(model) -> None:
    texts, t, y, _ = corpus(300, seed=4)
    frame = pd.DataFrame({"age": np.arange(300.0), "review": texts})
    out = scored_text_covariates(frame, t, y)
    assert list(out.columns) == ["age", "review_logit_t", "review_mu0", "review_mu1"]
    assert np.array_equal(out["age"], frame["age"])
    assert list(scored_text_covariates(texts, t, y).columns) == ["text_logit_t", "text_mu0", "text_mu1"]


@pytest.mark.parametrize(
    ("edit", "error", "match"),
    [(lambda x, t, y: x.__setitem__(7, ""), ValueError, "text column 'review': .*first at index 7"),
     (lambda x, t, y: x.__setitem__(7, 3), TypeError, r"text column 'review': .*\[7\] is int"),
     (lambda x, t, y: t.__setitem__(9, 2), ValueError, r"treatment must be binary 0/1, .*at row 9"),
     (lambda x, t, y: y.__setitem__(4, np.nan), ValueError, r"outcome contains NaN .*at row 4")],
)
def test_bad_input_names_the_row(model, edit, error, match) -> None:
    texts, t, y, _ = corpus(200, seed=5)
    texts = list(texts)
    t, y = t.copy(), y.copy()
    edit(texts, t, y)
    with pytest.raises(error, match=match):
        model.estimate(pd.DataFrame({"review": pd.Series(texts, dtype=object)}), t, y, text_features="scores")


def test_fold_count_follows_the_corpus_and_the_smaller_arm(monkeypatch) -> None:
    """By default 10 folds in a small corpus whose arms have 4 texts per fold, else 5; an explicit count is kept."""
    texts, t, y, _ = corpus(200, seed=6)
    for n_treated, expected in ((10 * MIN_ARM_TEXTS_PER_FOLD, 10), (10 * MIN_ARM_TEXTS_PER_FOLD - 1, 5)):
        arm = np.zeros(200, dtype=int)
        arm[:n_treated] = 1
        assert text_scores(texts, arm, y).n_folds == expected
        assert text_scores(texts, 1 - arm, y).n_folds == expected  # the smaller arm decides, whichever it is
    monkeypatch.setattr(text_scores_module, "LARGE_CORPUS_TEXTS", 200)  # these 200 texts now count as large
    assert text_scores(texts, t, y).n_folds == 5
    assert text_scores(texts, t, y, n_folds=3).n_folds == 3
    for bad in (1, 2.0, True, "10"):
        with pytest.raises(ValueError, match="n_folds must be None or an integer >= 2"):
            text_scores(texts, t, y, n_folds=bad)


def test_too_few_texts_in_an_arm_and_no_vocabulary() -> None:
    texts, t, y, _ = corpus(200, seed=6)
    t = np.zeros(200, dtype=int)
    t[:12] = 1
    with pytest.raises(ValueError, match="12 treated texts are too few for 5-fold text scores"):
        text_scores(texts, t, y)
    with pytest.raises(ValueError, match="50 treated texts are too few for 20-fold text scores"):
        text_scores(texts, (np.arange(200) < 50).astype(int), y, n_folds=20)
    with pytest.raises(ValueError, match="no word that appears in 3 or more"):
        bag_of_words(["alpha beta", "gamma delta", "epsilon"], min_df=3)


def test_option_misuse_is_a_clear_error(model, tiny_bert_dir) -> None:
    from hf_causal.backbones import TextEncoder

    texts, t, y, _ = corpus(100, seed=7)
    frame = pd.DataFrame({"review": texts})
    with pytest.raises(ValueError, match="text_features must be 'embedding' or 'scores'"):
        model.estimate(frame, t, y, text_features="words")
    with pytest.raises(ValueError, match="'embedding' needs text_encoder"):
        model.estimate(frame, t, y, text_features="embedding")
    with pytest.raises(ValueError, match="drop text_encoder"):
        model.estimate(frame, t, y, text_features="scores", text_encoder=TextEncoder.from_pretrained(tiny_bert_dir))
    with pytest.raises(ValueError, match="texts are read in memory"):
        model.estimate(frame.assign(t=t, y=y), "t", "y", text_features="scores")
    with pytest.raises(KeyError, match="not in the covariates"):
        model.estimate(frame, t, y, text_features="scores", text_columns=["title"])


def test_cli_text_columns(tmp_path, capsys) -> None:
    texts, t, y, _ = corpus(800, seed=8)
    path = tmp_path / "reviews.csv"
    pd.DataFrame({"review": texts, "treated": t, "y": y}).to_csv(path, index=False)
    argv = ["estimate", str(path), "--treatment", "treated", "--outcome", "y", "--estimand", "att", "--json"]
    assert main([*argv, "--text-columns", "review"]) == 0
    scored = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["estimate"]
    naive = y[t == 1].mean() - y[t == 0].mean()
    assert abs(scored - TRUE_EFFECT) < 0.1 * (naive - TRUE_EFFECT)
    assert main(argv) != 0  # without the flag the text column is refused, and the error says what to do
    assert "--text-columns" in capsys.readouterr().err
    assert main([*argv[:-3], "--estimand", "cate", "--text-columns", "review"]) != 0
    assert "--text-columns works with average effects" in capsys.readouterr().err
