"""Build the engine's chess-endgame dataset: opening move sequences as the treatment, partial interventions.

King and queen vs king, White (Ke1, Qd1) to move; the black king's start square confounds White's first
three moves (a noisy tablebase-guided behaviour policy) and the number of moves to mate. Simulator and
exact truths: :mod:`hf_causal.data.chess_endgame` (needs ``pip install chess``).

Configs: ``default`` (split ``train``: observational rows) and ``interventions`` (split ``test``: full and
partial interventions on the move sequence with their exact potential outcomes).

    python dataset_scripts/build_engine_chess.py --output-dir outputs/datasets/engine_chess [--push-to-hub ORG/engine_chess]
    python dataset_scripts/build_engine_chess.py --card-only --output-dir model_cards/datasets/engine_chess
"""

from __future__ import annotations

import argparse
import json

from hf_causal.data.chess_endgame import GRAPH, KQKEndgame
from hf_causal.data.publish import DatasetBundle, main


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Script-specific options."""
    parser.add_argument("--n-train", type=int, default=10_000, help="observational rows")
    parser.add_argument("--n-test", type=int, default=60, help="full-window interventions")
    parser.add_argument("--prefixes-per-length", type=int, default=6, help="partial interventions per prefix length")
    parser.add_argument("--seed", type=int, default=0)


def _graph_json() -> str:
    """GRAPH as compact JSON, one variable per line."""
    variables = ",\n    ".join(json.dumps(v) for v in GRAPH["variables"])
    return f'{{\n  "variables": [\n    {variables}\n  ],\n  "edges": {json.dumps(GRAPH["edges"])}\n}}'


def _sections(game: KQKEndgame) -> dict[str, str]:
    starts = ", ".join(
        f"`{s}` ({p:.2f}, mate in {game.start_moves_to_mate(s)})" for s, p in zip(game.starts, game.start_probs)
    )
    return {
        "Design": (
            f"King and queen vs king, White to move with the king on `{game.white_king}` and the queen on "
            f"`{game.white_queen}`.\n\n"
            f"- `start` (confounder): the black king's square, one of {starts} (probability, perfect-play "
            "distance to mate).\n"
            f"- `moves` (treatment): White's first {game.window} moves in UCI, chosen by a behaviour policy "
            "that sees the position: among the moves that keep the win (no stalemate, no hanging queen), with "
            f"probability {1 - game.epsilon:.2f} a softmax over minus the moves to mate after the move "
            f"(temperature {game.temperature}), otherwise uniformly. Black answers with the tablebase's best "
            "defence (ties: first move in UCI order), so the replies are a deterministic function of "
            "(`start`, `moves`).\n"
            "- `moves_to_mate` (outcome): White moves from the start until mate when both sides play "
            "perfectly after the window.\n\n"
            "The start drives both the moves and the outcome, so the naive E[moves_to_mate | moves] is "
            "confounded; the backdoor set {start} identifies every query whose moves are playable (legal and "
            "keeping the win) from every start."
        ),
        "Truth": (
            "Exact, from a KQK tablebase solved by retrograde analysis (numpy, checked against python-chess's "
            "move generation in the tests):\n\n"
            "- full intervention (`kind = full`): E[Y | do(moves = m)] = sum_s P(s) Y(s, m), a finite sum;\n"
            "- partial intervention (`kind = prefix`): the first `k` moves fixed, the rest of the window drawn "
            "from the behaviour policy; the sum over starts of an exact enumeration of the policy's tree of "
            "continuations (not Monte-Carlo)."
        ),
        "Columns": (
            "`default` / `train`:\n\n"
            "- `start`: the black king's start square (string)\n"
            "- `moves`: White's moves in the window (list of UCI strings)\n"
            "- `moves_to_mate`: the outcome (int)\n"
            "- `replies`: Black's answers (list of UCI strings; not a graph variable)\n"
            "- `fen`: the position after the window (string; not a graph variable)\n\n"
            "`interventions` / `test`:\n\n"
            "- `moves`: the intervened window (`kind = full`) or prefix (`kind = prefix`)\n"
            "- `k`: moves fixed by the intervention\n"
            "- `source`: `policy` / `random` (full windows: a behaviour-policy window or uniformly random "
            "winning moves), `frequent` / `random` (prefixes)\n"
            "- `n_train_rows`: training rows with that window / starting with that prefix\n"
            "- `true_outcome`: the exact potential-outcome mean E[moves_to_mate | do(...)]\n\n"
            "In Python: `hf_causal.data.chess_endgame.build_frames(n_train, n_test, prefixes_per_length, seed)` "
            "rebuilds both tables; `KQKEndgame().graph` is the causal graph."
        ),
        "Causal graph": "`CausalGraph.from_dict(...)` input:\n\n```json\n" + _graph_json() + "\n```",
        "Intended use": (
            "Benchmark of the autoregressive causal engine (`benchmarks/engine_chess.py` of hf-causal, "
            "Im et al., arXiv 2409.18581): train on `train`, answer `do()` queries on the move sequence "
            "(partial ones fix the first `k` positions), compare with `true_outcome`."
        ),
    }


def make(args: argparse.Namespace) -> DatasetBundle:
    """Simulate the endgames and wrap them with their card."""
    from hf_causal.data.chess_endgame import build_frames

    game = KQKEndgame()
    n_train = getattr(args, "n_train", 10_000)
    configs = None
    if getattr(args, "build", True):
        from datasets import Dataset, DatasetDict

        train, interventions = build_frames(
            n_train, getattr(args, "n_test", 60), getattr(args, "prefixes_per_length", 6), getattr(args, "seed", 0),
            game=game,
        )
        configs = {
            "default": DatasetDict({"train": Dataset.from_pandas(train, preserve_index=False)}),
            "interventions": DatasetDict({"test": Dataset.from_pandas(interventions, preserve_index=False)}),
        }
    return DatasetBundle(
        name="engine_chess",
        pretty_name="Chess endgames (KQK) with interventions on move sequences",
        configs=configs,
        config_splits={"default": ["train"], "interventions": ["test"]},
        summary=(
            "Synthetic king-and-queen-vs-king games for sequence treatments: the black king's start square "
            f"confounds White's first {game.window} moves and the number of moves to mate. The `interventions` "
            "config holds full and partial (first k moves fixed) interventions on the move sequence with exact "
            f"potential outcomes. Built by `dataset_scripts/build_engine_chess.py` ({n_train} training rows by "
            "default)."
        ),
        sections=_sections(game),
        license="apache-2.0",
        tags=["causal-inference", "chess", "sequence", "synthetic", "hf-causal"],
        size_category="10K<n<100K" if n_train >= 10_000 else "1K<n<10K",
    )


if __name__ == "__main__":
    main(make, "engine_chess", add_arguments=add_arguments, doc=__doc__)
