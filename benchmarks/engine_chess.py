"""Chess endgames: full and partial interventions on a move sequence (potential-outcome error).

Trains the engine on the observational KQK rows of :mod:`hf_causal.data.chess_endgame` (the data of
``dataset_scripts/build_engine_chess.py``, rebuilt on the fly) with ``train/configs/engine_chess.yaml``, then
estimates ``E[moves_to_mate | do(moves = m)]`` for full windows ``m`` and ``E[moves_to_mate | do(moves[:k] =
prefix)]`` (the first ``k`` moves fixed, the rest sampled by the engine) and compares with the simulator's
exact truths. Baselines: the naive conditional mean, the backdoor plug-in (stratified means over the start
square) and, for full windows, a ridge-regression g-formula. Writes ``benchmarks/results/engine_chess.md``.

    python benchmarks/engine_chess.py             # 10k rows, the config's steps (about 10 min on one CPU thread)
    python benchmarks/engine_chess.py --quick     # 3k rows, 300 steps, 20 windows
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np
import pandas as pd
from engine_common import engine_training_config
from harness.paths import report_path

from hf_causal import CausalEngine, CausalGraph
from hf_causal.data.chess_endgame import GRAPH, KQKEndgame, build_frames

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
Y = "moves_to_mate"


def naive(train: pd.DataFrame, prefix: list[str]) -> float:
    """Observed mean outcome of rows whose moves start with ``prefix`` (the overall mean if none)."""
    k = len(prefix)
    rows = train[train.moves.map(lambda m: list(m[:k]) == list(prefix))]
    return float(rows[Y].mean()) if len(rows) else float(train[Y].mean())


def stratified(train: pd.DataFrame, prefix: list[str]) -> float:
    """Backdoor plug-in ``sum_s P(s) mean(Y | s, prefix)``; an empty cell falls back to ``mean(Y | s)``."""
    k = len(prefix)
    match = train.moves.map(lambda m: list(m[:k]) == list(prefix))
    total = 0.0
    for s, p in train.start.value_counts(normalize=True).items():
        cell = train[(train.start == s) & match]
        total += p * float((cell if len(cell) else train[train.start == s])[Y].mean())
    return total


def ridge_g_formula(train: pd.DataFrame, windows: list[list[str]]) -> list[float] | None:
    """Ridge regression of Y on one-hot start, (position, move) and start x (position, move), averaged over
    the empirical start distribution (g-formula). ``None`` without scikit-learn."""
    try:
        from scipy import sparse
        from sklearn.linear_model import Ridge
    except ImportError:
        return None
    names: dict[str, int] = {}

    def features(start: str, moves: list[str]) -> list[int]:
        keys = [f"s={start}"] + [f"{t}={m}" for t, m in enumerate(moves)]
        keys += [f"s={start}|{t}={m}" for t, m in enumerate(moves)]
        return [names.setdefault(key, len(names)) for key in keys]

    def matrix(rows: list[list[int]]) -> sparse.csr_matrix:
        cols = [c for r in rows for c in r if c < n_features]
        ind = [i for i, r in enumerate(rows) for c in r if c < n_features]
        return sparse.csr_matrix((np.ones(len(cols)), (ind, cols)), shape=(len(rows), n_features))

    train_rows = [features(s, list(m)) for s, m in zip(train.start, train.moves)]
    n_features = len(names)
    model = Ridge(alpha=1.0).fit(matrix(train_rows), train[Y].to_numpy(dtype=float))
    p_start = train.start.value_counts(normalize=True)
    out = []
    for w in windows:
        pred = model.predict(matrix([features(s, list(w)) for s in p_start.index]))
        out.append(float(np.dot(p_start.to_numpy(), pred)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=os.path.join(ROOT, "train", "configs", "engine_chess.yaml"))
    parser.add_argument("--n-train", type=int, default=10_000)
    parser.add_argument("--n-test", type=int, default=60)
    parser.add_argument("--prefixes-per-length", type=int, default=6)
    parser.add_argument("--mc", type=int, default=1000, help="Monte-Carlo draws per full-window query (2x for prefixes)")
    parser.add_argument("--max-steps", type=int, default=None)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: the config's)")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default=None,
                        help="report path (default: benchmarks/results/engine_chess.md; --quick: a temporary folder)")
    args = parser.parse_args()
    args.out = str(report_path("engine_chess.md", args.quick, args.out))
    if args.quick:
        args.n_train, args.n_test, args.mc, args.max_steps = 3000, 20, 500, args.max_steps or 300
    config = engine_training_config(args.config, args.max_steps, args.threads)

    game = KQKEndgame()
    t0 = time.perf_counter()
    train, queries = build_frames(args.n_train, args.n_test, args.prefixes_per_length, seed=0, game=game)
    t_data = time.perf_counter() - t0
    graph = CausalGraph.from_dict(GRAPH)
    t0 = time.perf_counter()
    engine = CausalEngine.train(train[list(graph.variables)], graph, **config)
    t_train = time.perf_counter() - t0

    full = queries[queries.kind == "full"].reset_index(drop=True)
    prefixes = queries[queries.kind == "prefix"].reset_index(drop=True)
    t0 = time.perf_counter()
    full["engine"] = [
        engine.interventional_distribution(Y, do={"moves": list(m)}, n=args.mc).mean().value for m in full.moves
    ]
    estimates = [
        engine.interventional_distribution(Y, do={"moves": dict(enumerate(p))}, n=2 * args.mc).mean()
        for p in prefixes.moves
    ]
    t_query = time.perf_counter() - t0
    prefixes["engine"] = [e.value for e in estimates]
    prefixes["engine_se"] = [e.std_error for e in estimates]
    for frame in (full, prefixes):
        frame["naive"] = [naive(train, list(m)) for m in frame.moves]
        frame["stratified"] = [stratified(train, list(m)) for m in frame.moves]
    ridge = ridge_g_formula(train, [list(m) for m in full.moves])
    if ridge is not None:
        full["ridge g-formula"] = ridge
    full["constant"] = float(train[Y].mean())
    write_report(args, game, engine, train, full, prefixes, t_data, t_train, t_query)


def _mse(frame: pd.DataFrame, column: str) -> str:
    return f"{float(((frame[column] - frame.true_outcome) ** 2).mean()):.3f}" if len(frame) else "–"


def _notes(
    full: pd.DataFrame, seen: pd.DataFrame, unseen: pd.DataFrame, prefixes: pd.DataFrame, estimators: list[str]
) -> list[str]:
    """Data-driven comparison bullets (where the engine wins and loses) plus the design's caveats."""

    def mse(frame: pd.DataFrame, column: str) -> float:
        return float(((frame[column] - frame.true_outcome) ** 2).mean())

    notes = []
    for label, frame, names in (
        ("all windows", full, estimators),
        ("seen windows", seen, estimators),
        ("unseen windows", unseen, estimators),
        ("prefixes", prefixes, ["engine", "naive", "stratified"]),
    ):
        if not len(frame):
            continue
        engine = mse(frame, "engine")
        better = [f"{c} ({mse(frame, c):.3f})" for c in names if c != "engine" and mse(frame, c) < engine]
        verdict = "the engine is best" if not better else "the engine loses to " + ", ".join(better)
        notes.append(f"- {label}: engine MSE {engine:.3f}; {verdict}.")
    worst = prefixes.assign(err=(prefixes.engine - prefixes.true_outcome).abs()).sort_values("err").iloc[-1]
    ratio = float(((prefixes.engine - prefixes.true_outcome).abs() / prefixes.engine_se).median())
    baselines = [c for c in estimators if c not in ("engine", "constant")]
    best_baseline = min(baselines, key=lambda c: mse(full, c))
    notes += [
        f"- The engine's largest prefix error is {' '.join(worst.moves)} ({worst.n_train_rows} training rows): "
        f"{worst.engine:.3f} vs truth {worst.true_outcome:.3f}. The median prefix error is {ratio:.1f} Monte-Carlo "
        "standard errors: " + ("model error, not sampling noise, dominates." if ratio > 2 else "mostly sampling noise."),
        f"- Best baseline on full windows: {best_baseline}. The ridge g-formula gets hand-made features that match "
        "how this outcome is built (each move's effect depends on the king's square: start x (position, move)); "
        "the engine learns from raw tokens. The ridge has no direct analogue for prefixes (the rest of the window "
        "would need a model of the behaviour policy).",
        "- 'stratified' (the backdoor plug-in) is consistent but needs every (start, window) cell populated: "
        "fine for frequent prefixes, poor for full windows, whose cells are mostly empty.",
        "- One training run and one data seed: the differences between estimators have no across-seed error bars.",
    ]
    return notes


def write_report(
    args: argparse.Namespace,
    game: KQKEndgame,
    engine: CausalEngine,
    train: pd.DataFrame,
    full: pd.DataFrame,
    prefixes: pd.DataFrame,
    t_data: float,
    t_train: float,
    t_query: float,
) -> None:
    """Render ``benchmarks/results/engine_chess.md``."""
    seen, unseen = full[full.n_train_rows > 0], full[full.n_train_rows == 0]
    estimators = [c for c in ("engine", "naive", "stratified", "ridge g-formula", "constant") if c in full]
    command = "python benchmarks/engine_chess.py" + " ".join([""] + sys.argv[1:])
    lines = [
        "# Chess endgames (KQK): interventions on a move sequence",
        "",
        f"Written by `{command}` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} "
        f"({platform.machine()} CPU, {os.cpu_count()} cores shared with other jobs, torch threads "
        f"{engine.num_threads or 'default'}). Data: `hf_causal.data.chess_endgame.build_frames` (= "
        f"`dataset_scripts/build_engine_chess.py`): {len(train)} observational rows, built in {t_data:.0f} s. "
        "Config: `train/configs/engine_chess.yaml`" + (f" with max_steps={args.max_steps}" if args.max_steps else "") + ".",
        "",
        f"Design: king + queen (`{game.white_king}`, `{game.white_queen}`) vs king, White to move. Confounder "
        f"`start` = the black king's square ({len(game.starts)} squares, mate in "
        f"{min(map(game.start_moves_to_mate, game.starts))}-{max(map(game.start_moves_to_mate, game.starts))} "
        f"with perfect play); treatment `moves` = White's first {game.window} moves (UCI) from a noisy "
        "tablebase-guided behaviour policy that sees the position; Black replies with the tablebase's best "
        "defence; outcome `moves_to_mate` = White moves until mate with perfect play after the window. Truths "
        "are exact (tablebase + enumeration of the policy's continuations), not simulated.",
        "",
        f"Engine: {engine!r}; trained {engine.training_summary.get('steps')} steps in {t_train:.0f} s "
        f"(best validation loss {engine.training_summary.get('best_val_loss', float('nan')):.3f}); "
        f"{len(full)} full-window queries with {args.mc} draws and {len(prefixes)} prefix queries with "
        f"{2 * args.mc} draws in {t_query:.0f} s.",
        "",
        "## Full interventions: MSE of E[moves_to_mate | do(moves = m)] (moves²)",
        "",
        "|estimator|all windows|windows seen in training|unseen windows|",
        "|---|---|---|---|",
    ]
    lines += [f"|{c}|{_mse(full, c)}|{_mse(seen, c)}|{_mse(unseen, c)}|" for c in estimators]
    lines += [
        "",
        f"Windows: {len(full)} ({len(seen)} occur in the training rows, {len(unseen)} do not; half drawn from the "
        "behaviour policy, half uniformly random winning moves, all playable from every start); variance of the "
        f"true potential outcomes {full.true_outcome.var():.3f}, their mean {full.true_outcome.mean():.2f} vs the "
        f"observational mean {train[Y].mean():.2f} (a fixed window ignores the king's square, so it mates later "
        "than the position-aware policy). 'naive' = mean outcome of the rows with exactly that window (the overall "
        "mean when unseen), confounded by the start; 'stratified' = sum_s P(s) mean(Y | s, window), falling back "
        "to mean(Y | s) in empty cells; 'ridge g-formula' = ridge regression on one-hot start, (position, move) "
        "and start x (position, move), averaged over P(s); 'constant' = the observational mean.",
        "",
        "## Partial interventions: the first k moves fixed, the rest sampled",
        "",
        "|fixed prefix|k|training rows with it|truth (exact)|engine (MC s.e.)|naive|stratified|",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"|{' '.join(r.moves)}|{r.k}|{r.n_train_rows}|{r.true_outcome:.3f}|{r.engine:.3f} ({r.engine_se:.3f})|"
        f"{r.naive:.3f}|{r.stratified:.3f}|"
        for r in prefixes.itertuples()
    ]
    lines += [
        "",
        "|estimator|MSE over the prefixes|mean absolute error|",
        "|---|---|---|",
    ]
    lines += [
        f"|{c}|{_mse(prefixes, c)}|{float((prefixes[c] - prefixes.true_outcome).abs().mean()):.3f}|"
        for c in ("engine", "naive", "stratified")
    ]
    lines += [
        "",
        "The engine's prefix estimates sample the rest of the window from its learned p(moves | start, prefix) "
        "and the outcome from p(moves_to_mate | start, moves): the truncated factorisation, no separate model.",
        "",
        "## Notes",
        "",
        *_notes(full, seen, unseen, prefixes, estimators),
        "",
        "Per-window results (first 15):",
        "",
        "|moves|training rows|truth|" + "|".join(estimators[:-1]) + "|",
        "|---|---|---|" + "---|" * (len(estimators) - 1),
    ]
    lines += [
        f"|{' '.join(r['moves'])}|{r['n_train_rows']}|{r['true_outcome']:.3f}|"
        + "|".join(f"{r[c]:.3f}" for c in estimators[:-1]) + "|"
        for _, r in full.head(15).iterrows()
    ]
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
