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
    OUTCOME_LEARNERS,
    bag_of_words,
    scored_text_covariates,
    text_scores,
    two_level_split,
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


@pytest.mark.parametrize("learner", OUTCOME_LEARNERS)
def test_scores_are_cross_fitted(learner) -> None:
    """A row's scores come from models fitted on the other folds: changing its outcome leaves them unchanged (and
    changes the scores of rows in other folds, whose models did see it). With ``"auto"`` the choice between the
    learners is made inside the fold too, so it cannot see the row either."""
    texts, t, y, _ = corpus(300, seed=3)
    before = text_scores(texts, t, y, seed=5, outcome_learner=learner)
    for row in (0, int(np.flatnonzero(t == 1)[0])):  # a control's and a treated unit's outcome
        y2 = y.copy()
        y2[row] += 50.0
        after = text_scores(texts, t, y2, seed=5, outcome_learner=learner)
        for name in ("mu0", "mu1"):
            assert getattr(before, name)[row] == getattr(after, name)[row]
        assert not np.allclose(before.mu0 if t[row] == 0 else before.mu1, after.mu0 if t[row] == 0 else after.mu1)
        assert np.array_equal(before.logit_t, after.logit_t)  # the propensity never sees outcomes


def test_two_level_split_is_the_exact_two_means_split() -> None:
    """Against brute force over every threshold between distinct values (ties included): the split minimises the
    within-group sum of squares; constant values give one group."""
    rng = np.random.default_rng(0)
    for values in (rng.normal(size=40), rng.integers(0, 5, 30).astype(float), np.r_[rng.normal(0, 1, 25), 6.0]):
        distinct = np.unique(values)

        def within(cut: float, values: np.ndarray = values) -> float:
            low, high = values[values < cut], values[values >= cut]
            return float(((low - low.mean()) ** 2).sum() + ((high - high.mean()) ** 2).sum())

        best = min(distinct[1:], key=within)
        assert np.array_equal(two_level_split(values), (values >= best).astype(int))
    assert not two_level_split(np.full(7, 3.0)).any()


def lexicon_corpus(n: int, seed: int) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """A lexicon rule: C = 1 when the text's praise words outnumber its complaint words (20 praise and 10 complaint
    words, Zipf-frequent; 0-2 praise and 0-2 complaints per text). C moves the outcome by a +4 step and the
    treatment from 0.15 to 0.5."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    praise = [f"good{letters[i]}" for i in range(20)]
    complaint = [f"bad{letters[i]}" for i in range(10)]
    zipf_praise, zipf_complaint = 1 / np.arange(1, 21), 1 / np.arange(1, 11)
    rng = np.random.default_rng(seed)
    texts, c = [], np.zeros(n, dtype=bool)
    for i in range(n):
        n_praise, n_complaint = rng.choice(3, p=[0.4, 0.35, 0.25]), rng.choice(3, p=[0.6, 0.3, 0.1])
        words = [*rng.choice(FILLER, 6), *rng.choice(praise, n_praise, p=zipf_praise / zipf_praise.sum()),
                 *rng.choice(complaint, n_complaint, p=zipf_complaint / zipf_complaint.sum())]
        c[i] = n_praise > n_complaint
        texts.append(" ".join(rng.permutation(words)))
    t = (rng.random(n) < np.where(c, 0.5, 0.15)).astype(int)
    y = TRUE_EFFECT * t + 4.0 * c + rng.normal(0, 1, n)
    return texts, t, y, c


def test_latent_class_learner_fits_a_step_the_lasso_smears() -> None:
    """Under a lexicon rule the latent-class control score tracks C better than the lasso's (the linear fit adds
    praise words that the rule lets one decide), and ``"auto"`` picks it in most folds; where the outcome is linear
    in the words (no step), ``"auto"`` keeps the lasso in most folds."""
    texts, t, y, c = lexicon_corpus(1000, seed=11)
    lasso = text_scores(texts, t, y, seed=0, n_folds=5, outcome_learner="lasso")
    latent = text_scores(texts, t, y, seed=0, n_folds=5, outcome_learner="latent_class")
    auto = text_scores(texts, t, y, seed=0, n_folds=5, outcome_learner="auto")
    controls = t == 0
    error = {name: np.mean((s.mu0[controls] - 4.0 * c[controls]) ** 2) for name, s in
             (("lasso", lasso), ("latent_class", latent))}
    assert error["latent_class"] < 0.8 * error["lasso"]
    assert lasso.learners_used[0] == {"lasso": 5} and latent.learners_used[0] == {"latent_class": 5}
    assert auto.learners_used[0].get("latent_class", 0) >= 4
    rng = np.random.default_rng(12)
    counts = rng.poisson(1.0, (1000, 3))
    linear_texts = [" ".join([*rng.choice(FILLER, 6), *["good"] * a, *["fresh"] * b, *["warm"] * d])
                    for a, b, d in counts]
    linear_y = 1.5 * (counts > 0).sum(axis=1) + rng.normal(0, 1, 1000)  # smooth in the words: no step
    linear_t = (rng.random(1000) < 0.3).astype(int)
    assert text_scores(linear_texts, linear_t, linear_y, seed=0, n_folds=5,
                       outcome_learner="auto").learners_used[0].get("lasso", 0) >= 4


def test_pooled_latent_class_carries_a_word_seen_only_in_the_other_arm() -> None:
    """A confounding word that only treated texts contain ("zesty": C = 1 like "great") can inform the control
    score only through a model over both arms: the pooled latent-class control score puts those texts near the
    upper level (+4), the per-arm one cannot (it never saw the word among controls)."""
    rng = np.random.default_rng(21)
    n = 900
    kind = rng.choice(3, n, p=[0.5, 0.35, 0.15])  # 0: no topic word, 1: "great", 2: "zesty"
    texts = [" ".join([*rng.choice(FILLER, 6), *(["great"] if k == 1 else ["zesty"] if k == 2 else [])]) for k in kind]
    c = kind > 0
    t = np.where(kind == 2, 1, (rng.random(n) < np.where(c, 0.5, 0.15)).astype(int))
    y = TRUE_EFFECT * t + 4.0 * c + rng.normal(0, 1, n)
    zesty = kind == 2
    per_arm = text_scores(texts, t, y, seed=0, n_folds=5, outcome_learner="latent_class")
    pooled = text_scores(texts, t, y, seed=0, n_folds=5, outcome_learner="pooled_latent_class")
    assert pooled.learners_used == ({"pooled_latent_class": 5}, {"pooled_latent_class": 5})
    for arm_used in text_scores(texts, t, y, seed=0, n_folds=5, outcome_learner="auto_all").learners_used:
        # "auto_all" keeps one of the three per fold; its inner error is measured on the arm's own training texts,
        # which never hold "zesty" among controls, so it cannot be asked to find the pooled model here
        assert set(arm_used) <= {"lasso", "latent_class", "pooled_latent_class"} and sum(arm_used.values()) == 5
    assert pooled.mu0[zesty].mean() > 3.0 > 1.0 > per_arm.mu0[zesty].mean()
    great = kind == 1  # where both models saw the word, both score it
    assert min(pooled.mu0[great].mean(), per_arm.mu0[great].mean()) > 3.0


def test_unknown_outcome_learner_is_refused() -> None:
    texts, t, y, _ = corpus(100, seed=7)
    with pytest.raises(ValueError, match="outcome_learner must be one of"):
        text_scores(texts, t, y, outcome_learner="forest")


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
    # a string column of a few repeated values taken for text by default is named; naming the texts keeps it whole
    with_city = frame.assign(city=np.resize(["north", "south", "east"], 300))
    with pytest.warns(UserWarning, match=r"\['city'\] take only a few repeated values"):
        scored_text_covariates(with_city, t, y)
    named = scored_text_covariates(with_city, t, y, columns="review")
    assert list(named.columns) == ["age", "city", "review_logit_t", "review_mu0", "review_mu1"]


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
    with pytest.raises(ValueError, match="texts are read in memory"):  # a stream cannot score its texts
        model.estimate(frame.assign(t=t, y=y), "t", "y", text_features="scores", chunk_rows=50)
    # a DataFrame with column names is split in memory: the texts are scored as with arrays
    by_name = model.estimate(frame.assign(t=t, y=y), "t", "y", text_features="scores").value
    assert by_name == pytest.approx(model.estimate(frame, t, y, text_features="scores").value, rel=1e-12)
    with pytest.raises(ValueError, match="not in the covariates"):
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
    # --covariates need not repeat the text columns: they are covariates too
    pd.DataFrame({"age": np.random.default_rng(0).normal(size=len(t)), "review": texts, "treated": t,
                  "y": y}).to_csv(path, index=False)
    listed = {}
    for covariates in (["age"], ["age", "review"]):
        assert main([*argv, "--covariates", *covariates, "--text-columns", "review"]) == 0
        listed[len(covariates)] = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["estimate"]
    assert listed[1] == listed[2]
