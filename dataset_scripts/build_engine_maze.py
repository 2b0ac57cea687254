"""Build the engine's maze dataset: variable-length action sequences as the treatment.

An offline rebuild of the maze experiment of Im et al. (arXiv 2409.18581), small enough for a CPU.

Simulator (a 5x5 grid, goal at (4, 4), fixed interior walls; a move into a wall or the border
leaves the agent in place):

* ``start`` (categorical, confounder): one of four start cells, P = (0.4, 0.3, 0.2, 0.1).
* ``actions`` (sequence, treatment): 1-8 moves from ``U D L R`` drawn by a behaviour policy that
  *sees the start cell*: each move is the shortest-path move with probability 0.75, else random;
  the length is uniform on 2..8. Far starts therefore get different (longer, more directed)
  sequences than near ones: the naive ``E[Y | actions]`` is confounded.
* ``outcome`` (continuous): ``-manhattan(final cell, goal) - 0.1 * len(actions) + bonus[start]
  + N(0, 0.3^2)`` with ``bonus = (0, 0.5, 1.0, 1.5)``.

Ground truth of a test action sequence ``a`` is the exact potential-outcome mean
``E[Y(a)] = sum_s P(s) (-dist(move(s, a), goal) - 0.1|a| + bonus[s])`` (the simulator is deterministic
given the start, so this is a finite sum).

Writes ``train.parquet`` (observational rows), ``test.parquet`` (``actions``, ``true_outcome``),
``graph.json`` and a dataset card ``README.md`` into ``--output-dir``.

    python dataset_scripts/build_engine_maze.py --output-dir outputs/datasets/engine-maze
"""

from __future__ import annotations

import argparse
import json
from collections import deque
from pathlib import Path

import numpy as np
import pandas as pd

SIZE = 5
GOAL = (4, 4)
WALLS = {((1, 1), (1, 2)), ((2, 3), (3, 3)), ((3, 1), (3, 2)), ((1, 3), (2, 3)), ((2, 0), (2, 1))}
STARTS = [(0, 0), (0, 4), (4, 0), (2, 2)]
P_START = np.array([0.4, 0.3, 0.2, 0.1])
BONUS = np.array([0.0, 0.5, 1.0, 1.5])
MOVES = {"U": (-1, 0), "D": (1, 0), "L": (0, -1), "R": (0, 1)}
ACTIONS = list(MOVES)
MAX_LEN = 8
NOISE_SD = 0.3
LEN_COST = 0.1


def _blocked(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return (a, b) in WALLS or (b, a) in WALLS


def step(cell: tuple[int, int], action: str) -> tuple[int, int]:
    """One move; walls and the border leave the agent in place."""
    dr, dc = MOVES[action]
    nxt = (cell[0] + dr, cell[1] + dc)
    if not (0 <= nxt[0] < SIZE and 0 <= nxt[1] < SIZE) or _blocked(cell, nxt):
        return cell
    return nxt


def run(start: int, actions: list[str]) -> tuple[int, int]:
    cell = STARTS[start]
    for a in actions:
        cell = step(cell, a)
    return cell


def distance_to_goal() -> dict[tuple[int, int], int]:
    """Shortest-path distance of every cell to the goal (BFS through the walls)."""
    dist = {GOAL: 0}
    queue = deque([GOAL])
    while queue:
        cell = queue.popleft()
        for a in ACTIONS:
            nxt = step(cell, a)
            if nxt not in dist and step(nxt, {"U": "D", "D": "U", "L": "R", "R": "L"}[a]) == cell:
                dist[nxt] = dist[cell] + 1
                queue.append(nxt)
    return dist


DIST = distance_to_goal()


def manhattan(cell: tuple[int, int]) -> int:
    return abs(cell[0] - GOAL[0]) + abs(cell[1] - GOAL[1])


def mean_outcome(start: int, actions: list[str]) -> float:
    """E[outcome | start, actions] (the noise has mean zero)."""
    return -manhattan(run(start, actions)) - LEN_COST * len(actions) + BONUS[start]


def true_potential_outcome(actions: list[str]) -> float:
    """Exact E[Y(do(actions))]: average over the start distribution."""
    return float(sum(p * mean_outcome(s, actions) for s, p in enumerate(P_START)))


def behaviour_policy(start: int, rng: np.random.Generator) -> list[str]:
    cell, out = STARTS[start], []
    for _ in range(int(rng.integers(2, MAX_LEN + 1))):
        best = [a for a in ACTIONS if DIST.get(step(cell, a), 99) < DIST.get(cell, 99)]
        a = str(rng.choice(best)) if best and rng.random() < 0.75 else str(rng.choice(ACTIONS))
        out.append(a)
        cell = step(cell, a)
    return out


def simulate(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    starts = rng.choice(len(STARTS), size=n, p=P_START)
    rows = []
    for s in starts:
        acts = behaviour_policy(int(s), rng)
        rows.append({"start": int(s), "actions": acts, "outcome": mean_outcome(int(s), acts) + NOISE_SD * rng.normal()})
    return pd.DataFrame(rows)


def test_sequences(n: int, seed: int) -> pd.DataFrame:
    """Distinct evaluation sequences: half from the behaviour policy, half uniformly random."""
    rng = np.random.default_rng(seed)
    seen: set[tuple[str, ...]] = set()
    out = []
    while len(out) < n:
        if len(out) % 2 == 0:
            acts = behaviour_policy(int(rng.choice(len(STARTS), p=P_START)), rng)
        else:
            acts = [str(a) for a in rng.choice(ACTIONS, size=int(rng.integers(1, MAX_LEN + 1)))]
        if tuple(acts) in seen:
            continue
        seen.add(tuple(acts))
        out.append({"actions": acts, "true_outcome": true_potential_outcome(acts),
                    "source": "policy" if len(out) % 2 == 0 else "random"})
    return pd.DataFrame(out)


GRAPH = {
    "variables": [
        {"name": "start", "type": "categorical"},
        {"name": "actions", "type": "sequence", "max_length": MAX_LEN},
        {"name": "outcome", "type": "continuous"},
    ],
    "edges": [["start", "actions"], ["start", "outcome"], ["actions", "outcome"]],
}

CARD = """---
license: apache-2.0
task_categories: [tabular-regression]
tags: [causal-inference, synthetic, hf-causal]
configs:
- config_name: default
  data_files:
  - {{split: train, path: train.parquet}}
  - {{split: test, path: test.parquet}}
---
# engine-maze

Synthetic maze-navigation data for the hf-causal autoregressive causal engine: the treatment is a
variable-length action sequence, the start cell confounds it and the outcome. Built by
`dataset_scripts/build_engine_maze.py` (seed {seed}, {n_train} training rows, {n_test} test sequences).

* `train`: `start` (0-3), `actions` (list of U/D/L/R, length 2-8), `outcome` (float).
* `test`: `actions` and `true_outcome` = the exact potential-outcome mean E[Y(do(actions))].
* `graph.json`: the causal graph start -> actions -> outcome, start -> outcome.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output-dir", default="outputs/datasets/engine-maze")
    parser.add_argument("--n-train", type=int, default=10_000)
    parser.add_argument("--n-test", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    simulate(args.n_train, args.seed).to_parquet(out / "train.parquet", index=False)
    test_sequences(args.n_test, args.seed + 1).to_parquet(out / "test.parquet", index=False)
    (out / "graph.json").write_text(json.dumps(GRAPH, indent=2))
    (out / "README.md").write_text(CARD.format(seed=args.seed, n_train=args.n_train, n_test=args.n_test))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
