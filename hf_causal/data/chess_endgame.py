"""Chess endgames with partial interventions on move sequences (the engine's second non-text experiment).

King and queen against king (KQK), White to move. White's king and queen stand on their home squares
(``e1``, ``d1``); the start position is chosen by the square of the black king.

Structural causal model (all quantities exact; see :class:`KQKEndgame`):

* ``start`` (categorical, the confounder): the black king's square, drawn from ``start_probs``.
* ``moves`` (sequence, the treatment): White's first ``window`` moves (UCI strings), chosen by a noisy
  engine-like *behaviour policy* that sees the position: among the moves that keep the win (no stalemate,
  no hanging queen), with probability ``1 - epsilon`` a softmax over ``-(moves to mate after the move)``
  (temperature ``temperature``), otherwise a uniformly random one. Black answers every move with a
  fixed policy, the tablebase's best defence (ties: the first move in UCI order), so Black's replies are
  a deterministic function of ``(start, moves)``.
* ``moves_to_mate`` (integer, the outcome): the number of White moves from the start until mate when
  both sides play perfectly after the window (the window's moves plus the tablebase distance).

The outcome is a deterministic function of ``(start, moves)``, and ``start`` drives both the moves (the
policy reacts to the king's square) and the outcome (some squares are simply closer to mate), so the
naive ``E[moves_to_mate | moves]`` is confounded. The truths are exact:

* full intervention ``E[moves_to_mate | do(moves = m)] = sum_s P(s) moves_to_mate(s, m)``, a finite
  sum (:meth:`KQKEndgame.potential_outcome`);
* partial intervention (the first ``k`` moves fixed, the rest drawn from the behaviour policy): the sum
  over starts of an exact enumeration of the policy's tree of continuations
  (:meth:`KQKEndgame.prefix_potential_outcome`).

Both need the intervened moves to be in the behaviour policy's support from every start (positivity:
legal, and not throwing the win away); :meth:`KQKEndgame.feasible` checks it.

Distance to mate comes from :class:`~hf_causal.data.chess_tablebase.KQKTablebase`, an exact retrograde solution
of all 262,144 (king, queen, king) placements computed in about a second with numpy; python-chess
(``pip install chess``) supplies the rules, move generation and notation of the game itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .chess_tablebase import INF, KQKTablebase, require_chess, tablebase

__all__ = ["GRAPH", "KQKEndgame", "KQKTablebase", "WindowResult", "build_frames", "require_chess", "tablebase"]


@dataclass
class WindowResult:
    """One played opening window.

    Attributes:
        start: the black king's start square.
        moves: White's moves (UCI) inside the window.
        replies: Black's answers (UCI; one fewer than ``moves`` when White's last move ended the game).
        fen: the position after the window.
        moves_to_mate: White moves from the start until mate with perfect play after the window
            (``-1``: the window threw the win away: stalemate or a lost queen).
    """

    start: str
    moves: list[str]
    replies: list[str]
    fen: str
    moves_to_mate: int


@dataclass
class KQKEndgame:
    """Simulator and exact truths of the KQK experiment (see the module docstring).

    Args:
        starts: black-king start squares (the confounder's levels).
        start_probs: their probabilities.
        white_king, white_queen: White's fixed squares.
        window: White moves chosen by the behaviour policy (the treatment sequence's length).
        epsilon: probability of a uniformly random winning move in the behaviour policy.
        temperature: softmax temperature (in moves to mate) of the behaviour policy's engine part.

    Raises:
        ValueError: on an illegal start, or one that is mate within ``window`` moves (every window must be
            a full one, so that a prefix intervention never meets an early end of the game).
    """

    starts: tuple[str, ...] = ("a3", "h3", "a5", "h4", "b7", "g7", "b8", "f7")
    start_probs: tuple[float, ...] = (0.20, 0.10, 0.15, 0.10, 0.10, 0.15, 0.10, 0.10)
    white_king: str = "e1"
    white_queen: str = "d1"
    window: int = 3
    epsilon: float = 0.25
    temperature: float = 0.5
    _boards: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        chess = require_chess()
        if len(self.starts) != len(self.start_probs) or not np.isclose(sum(self.start_probs), 1.0):
            raise ValueError("start_probs must give one probability per start and sum to 1")
        if not 0 <= self.epsilon <= 1 or self.temperature <= 0 or self.window < 1:
            raise ValueError("need 0 <= epsilon <= 1, temperature > 0 and window >= 1")
        for s in self.starts:
            board = chess.Board(None)
            board.set_piece_at(chess.parse_square(self.white_king), chess.Piece(chess.KING, chess.WHITE))
            board.set_piece_at(chess.parse_square(self.white_queen), chess.Piece(chess.QUEEN, chess.WHITE))
            board.set_piece_at(chess.parse_square(s), chess.Piece(chess.KING, chess.BLACK))
            board.turn = chess.WHITE
            if not board.is_valid() or board.is_game_over():
                raise ValueError(f"start square {s!r} gives an illegal or finished position")
            self._boards[s] = board
            # mate inside the window would shorten the sequence; keep every window a full one
            if self.start_moves_to_mate(s) <= self.window:
                raise ValueError(f"start {s!r} is mate in {self.start_moves_to_mate(s)} <= window {self.window}")

    # --------------------------------------------------------------------------------- the game
    @property
    def graph(self) -> dict[str, Any]:
        """The causal graph as ``CausalGraph.from_dict`` input."""
        return {
            "variables": [
                {"name": "start", "type": "categorical"},
                {"name": "moves", "type": "sequence", "max_length": self.window},
                {"name": "moves_to_mate", "type": "integer"},
            ],
            "edges": [["start", "moves"], ["start", "moves_to_mate"], ["moves", "moves_to_mate"]],
        }

    def board(self, start: str) -> Any:
        """A fresh python-chess board of a start position (White to move)."""
        if start not in self._boards:
            raise ValueError(f"unknown start {start!r}; known: {list(self.starts)}")
        return self._boards[start].copy()

    def start_moves_to_mate(self, start: str) -> int:
        """White moves to mate from a start with perfect play (tablebase)."""
        return (tablebase().dtm(self.board(start)) + 1) // 2

    def winning_moves(self, board: Any) -> tuple[list[str], np.ndarray]:
        """White's legal moves that keep the win (UCI, sorted) and the White moves to mate after each."""
        chess = require_chess()
        tb = tablebase()
        wk, bk = board.king(chess.WHITE), board.king(chess.BLACK)
        queens = board.pieces(chess.QUEEN, chess.WHITE)
        if len(queens) != 1 or board.turn != chess.WHITE:
            raise ValueError(f"not a KQK position with White to move: {board.fen()}")
        wq = next(iter(queens))
        moves, remaining = [], []
        for m in sorted(board.legal_moves, key=lambda m: m.uci()):
            k, q = (m.to_square, wq) if m.from_square == wk else (wk, m.to_square)
            plies = int(tb.black[tb.index(k, q, bk)])  # Black to move after m
            if plies < INF:  # a stalemate or a hanging queen is never played
                moves.append(m.uci())
                remaining.append(plies // 2)
        return moves, np.asarray(remaining, dtype=np.float64)

    def behaviour_policy(self, board: Any) -> tuple[list[str], np.ndarray]:
        """The behaviour policy at a White-to-move position: its support (the winning moves, UCI, sorted)
        and their probabilities: ``(1 - epsilon) softmax(-moves_to_mate / temperature) + epsilon / n``."""
        moves, remaining = self.winning_moves(board)
        score = -remaining / self.temperature
        soft = np.exp(score - score.max())
        return moves, (1 - self.epsilon) * soft / soft.sum() + self.epsilon / len(moves)

    def black_reply(self, board: Any) -> Any:
        """Black's fixed policy: the longest resistance (taking a hanging queen first); ties by UCI order."""
        tb = tablebase()
        best, best_value = None, -1
        for m in sorted(board.legal_moves, key=lambda m: m.uci()):
            board.push(m)
            value = tb.dtm(board)
            board.pop()
            if value > best_value:
                best, best_value = m, value
        return best

    def _push_white(self, board: Any, uci: str) -> None:
        chess = require_chess()
        try:
            move = chess.Move.from_uci(uci)
        except ValueError as err:  # python-chess's InvalidMoveError is a ValueError
            raise ValueError(f"{uci!r} is not a UCI move") from err
        if move not in board.legal_moves:
            raise ValueError(f"{uci} is illegal in {board.fen()}")
        board.push(move)

    def _push_pair(self, board: Any, uci: str) -> None:
        """White's move and, if the game goes on, Black's reply."""
        self._push_white(board, uci)
        if not board.is_game_over():
            board.push(self.black_reply(board))

    def play(self, start: str, moves: Sequence[str] = (), rng: np.random.Generator | None = None) -> WindowResult:
        """Play the window from ``start``: the given White moves first, then (with ``rng``) the behaviour
        policy up to ``window`` White moves; Black answers with :meth:`black_reply`.

        Without ``rng`` the window is exactly ``moves`` (an intervention). Raises ``ValueError`` if a move
        is illegal or comes after the end of the game.
        """
        if len(moves) > self.window:
            raise ValueError(f"at most {self.window} moves fit in the window, got {len(moves)}")
        board = self.board(start)
        played: list[str] = []
        replies: list[str] = []
        while len(played) < self.window and not board.is_game_over():
            if len(played) < len(moves):
                uci = str(moves[len(played)])
            elif rng is not None:
                options, probs = self.behaviour_policy(board)
                uci = options[int(rng.choice(len(options), p=probs))]
            else:
                break
            self._push_white(board, uci)
            played.append(uci)
            if not board.is_game_over():
                reply = self.black_reply(board)
                replies.append(reply.uci())
                board.push(reply)
        if len(played) < len(moves):
            raise ValueError(f"the game from {start} ended after {played}; {list(moves)[len(played):]} cannot be played")
        return WindowResult(start, played, replies, board.fen(), _moves_to_mate(board, len(played)))

    def outcome(self, start: str, moves: Sequence[str]) -> int:
        """``moves_to_mate`` for a start and a complete window ``moves`` (deterministic; ``-1``: drawn)."""
        return self.play(start, moves).moves_to_mate

    # ------------------------------------------------------------------------------ data
    def simulate(self, n: int, seed: int = 0) -> Any:
        """``n`` observational rows: ``start``, ``moves``, ``moves_to_mate`` plus the non-graph columns
        ``replies`` (Black's answers) and ``fen`` (the position after the window)."""
        import pandas as pd

        rng = np.random.default_rng(seed)
        starts = rng.choice(len(self.starts), size=int(n), p=np.asarray(self.start_probs))
        rows = []
        for s in starts:
            r = self.play(self.starts[int(s)], rng=rng)
            rows.append({"start": r.start, "moves": r.moves, "moves_to_mate": r.moves_to_mate,
                         "replies": r.replies, "fen": r.fen})
        return pd.DataFrame(rows)

    # ------------------------------------------------------------------------------ truths
    def feasible(self, moves: Sequence[str]) -> bool:
        """Whether every move of ``moves`` is in the behaviour policy's support from every start (legal
        and keeping the win): the positivity that ``do(moves)`` needs to be identified."""
        for s in self.starts:
            board = self.board(s)
            for uci in moves:
                if board.is_game_over() or str(uci) not in self.winning_moves(board)[0]:
                    return False
                self._push_pair(board, str(uci))
        return True

    def _check_feasible(self, moves: Sequence[str]) -> None:
        if not self.feasible(moves):
            raise ValueError(
                f"{list(moves)} is not playable (legal and keeping the win) from every start: "
                "the observational data cannot identify its effect"
            )

    def potential_outcome(self, moves: Sequence[str]) -> float:
        """Exact ``E[moves_to_mate | do(moves = m)] = sum_s P(s) moves_to_mate(s, m)`` for a complete
        window ``m``."""
        self._check_feasible(moves)
        if len(moves) != self.window:
            raise ValueError(f"a full intervention fixes all {self.window} moves; use prefix_potential_outcome")
        return float(sum(p * self.outcome(s, moves) for s, p in zip(self.starts, self.start_probs)))

    def prefix_potential_outcome(self, prefix: Sequence[str]) -> float:
        """Exact ``E[moves_to_mate | do(moves[:k] = prefix)]``: the first ``k`` White moves fixed, the rest
        of the window drawn from the behaviour policy (Black's fixed replies in between). Enumerates the
        policy's whole tree of continuations, so it is exact, not Monte-Carlo."""
        self._check_feasible(prefix)
        total = 0.0
        for s, p in zip(self.starts, self.start_probs):
            board = self.board(s)
            for uci in prefix:
                self._push_pair(board, str(uci))
            total += p * self._expected_outcome(board, len(prefix))
        return float(total)

    def _expected_outcome(self, board: Any, n_played: int) -> float:
        if n_played >= self.window or board.is_game_over():
            return float(_moves_to_mate(board, n_played))
        moves, probs = self.behaviour_policy(board)
        depth = len(board.move_stack)
        value = 0.0
        for uci, p in zip(moves, probs):
            self._push_pair(board, uci)
            value += p * self._expected_outcome(board, n_played + 1)
            while len(board.move_stack) > depth:
                board.pop()
        return value

    def test_sequences(
        self, n: int, seed: int = 0, vocabulary: set[str] | None = None, max_tries: int = 100_000
    ) -> Any:
        """Distinct complete windows for full interventions, with their exact potential outcomes.

        Half are behaviour-policy windows from a random start, half uniformly random winning moves; only
        windows playable from every start (:meth:`feasible`) and, if given, using only moves in
        ``vocabulary`` (e.g. those seen in training) are kept.
        """
        import pandas as pd

        rng = np.random.default_rng(seed)
        seen: set[tuple[str, ...]] = set()
        rows = []
        for _ in range(max_tries):
            if len(rows) >= n:
                break
            source = "policy" if len(rows) % 2 == 0 else "random"
            start = self.starts[int(rng.choice(len(self.starts), p=np.asarray(self.start_probs)))]
            moves = self.play(start, rng=rng).moves if source == "policy" else self._random_window(start, rng)
            key = tuple(moves)
            if key in seen or (vocabulary is not None and not set(moves) <= vocabulary):
                continue
            seen.add(key)
            if self.feasible(moves):
                rows.append({"moves": list(moves), "true_outcome": self.potential_outcome(moves), "source": source})
        if len(rows) < n:
            raise RuntimeError(f"found only {len(rows)} feasible test windows in {max_tries} tries")
        return pd.DataFrame(rows)

    def test_prefixes(self, data: Any, lengths: Sequence[int] = (1, 2), per_length: int = 4, seed: int = 0) -> Any:
        """Prefixes for partial interventions, with their exact potential outcomes.

        Per length ``k``: the ``per_length // 2`` most frequent feasible prefixes of ``data.moves`` (where a
        plug-in estimate is easy) and ``per_length - per_length // 2`` feasible ones drawn uniformly from
        the other prefixes seen in ``data`` (often rare ones, where pooling across sequences matters).
        Returns columns ``moves`` (the prefix), ``k``, ``true_outcome``, ``source`` (``frequent`` /
        ``random``), ``n_rows`` (rows of ``data`` starting with the prefix).
        """
        import pandas as pd

        rng = np.random.default_rng(seed)
        rows = []
        for k in lengths:
            counts = data.moves.map(lambda m, k=k: tuple(m[:k])).value_counts()
            counts = counts[[len(p) == k for p in counts.index]]
            ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
            frequent = [p for p, _ in ordered if self.feasible(p)][: per_length // 2]
            rest = [p for p, _ in ordered if p not in frequent]
            drawn: list[tuple[str, ...]] = []
            for j in rng.permutation(len(rest)):
                if len(drawn) >= per_length - len(frequent):
                    break
                if self.feasible(rest[j]):
                    drawn.append(rest[j])
            for source, chosen in (("frequent", frequent), ("random", drawn)):
                rows += [{"moves": list(p), "k": k, "true_outcome": self.prefix_potential_outcome(p),
                          "source": source, "n_rows": int(counts[p])} for p in chosen]
        return pd.DataFrame(rows, columns=["moves", "k", "true_outcome", "source", "n_rows"])

    def _random_window(self, start: str, rng: np.random.Generator) -> list[str]:
        board = self.board(start)
        moves: list[str] = []
        while len(moves) < self.window and not board.is_game_over():
            options = self.winning_moves(board)[0]
            moves.append(options[int(rng.integers(len(options)))])
            self._push_pair(board, moves[-1])
        return moves


def build_frames(
    n_train: int = 10_000,
    n_test: int = 60,
    prefixes_per_length: int = 6,
    seed: int = 0,
    game: KQKEndgame | None = None,
) -> tuple[Any, Any]:
    """The published dataset as two DataFrames (``dataset_scripts/build_engine_chess.py``, the benchmark).

    Returns:
        ``train``: observational rows of :meth:`KQKEndgame.simulate` (seed ``seed``).
        ``interventions``: the evaluation queries: ``n_test`` full windows (``kind="full"``, seed
        ``seed + 1``, only moves seen in ``train``) and, for prefix lengths 1 and 2,
        ``prefixes_per_length`` partial interventions (``kind="prefix"``, seed ``seed + 2``). Columns
        ``moves``, ``kind``, ``k`` (moves fixed), ``source``, ``n_train_rows`` (training rows with that
        window / starting with that prefix) and ``true_outcome`` (exact ``E[moves_to_mate | do(...)]``).
    """
    import pandas as pd

    game = game or KQKEndgame()
    train = game.simulate(n_train, seed=seed)
    vocabulary = {m for ms in train.moves for m in ms}
    full = game.test_sequences(n_test, seed=seed + 1, vocabulary=vocabulary)
    counts = train.moves.map(tuple).value_counts()
    full = full.assign(kind="full", k=game.window, n_train_rows=[int(counts.get(tuple(m), 0)) for m in full.moves])
    prefixes = game.test_prefixes(train, per_length=prefixes_per_length, seed=seed + 2)
    prefixes = prefixes.rename(columns={"n_rows": "n_train_rows"}).assign(kind="prefix")
    columns = ["moves", "kind", "k", "source", "n_train_rows", "true_outcome"]
    interventions = pd.concat([full[columns], prefixes[columns]], ignore_index=True)
    return train, interventions


def _moves_to_mate(board: Any, n_played: int) -> int:
    """White moves from the start until mate after ``n_played`` window moves, perfect play afterwards
    (``-1``: drawn)."""
    if board.is_checkmate():
        return n_played
    if board.is_game_over():
        return -1
    plies = tablebase().dtm(board)  # White to move here: Black has replied to the last window move
    return -1 if plies >= INF else n_played + (plies + 1) // 2


#: The graph of the default experiment (``CausalGraph.from_dict(GRAPH)``; equals ``KQKEndgame().graph``).
GRAPH: dict[str, Any] = {
    "variables": [
        {"name": "start", "type": "categorical"},
        {"name": "moves", "type": "sequence", "max_length": 3},
        {"name": "moves_to_mate", "type": "integer"},
    ],
    "edges": [["start", "moves"], ["start", "moves_to_mate"], ["moves", "moves_to_mate"]],
}
