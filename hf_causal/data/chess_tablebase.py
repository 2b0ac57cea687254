"""An exact KQK tablebase: distance to mate of all 262,144 (king, queen, king) placements, by retrograde analysis.

Computed in about a second with numpy and cached; python-chess (``pip install chess``) supplies the rules
used to check it in the tests. The chess-endgame experiment (:mod:`hf_causal.data.chess_endgame`) reads its
exact truths from here.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

__all__ = ["INF", "KQKTablebase", "require_chess", "tablebase"]

#: Distance-to-mate value of drawn, illegal or unreachable positions.
INF = 1000
_DIRECTIONS = ((1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (1, -1), (-1, 1), (-1, -1))


def require_chess() -> Any:
    """Import python-chess, with an actionable message when it is missing."""
    try:
        import chess
    except ImportError as err:  # pragma: no cover - exercised only without the optional dependency
        raise ImportError(
            "the chess-endgame experiment needs python-chess: `pip install chess` "
            "(or `pip install 'hf-causal[bench]'`)"
        ) from err
    return chess


class KQKTablebase:
    """Exact distance to mate (in plies) of every king + queen vs king position.

    Positions are indexed by ``wk * 4096 + wq * 64 + bk`` (squares numbered like python-chess:
    ``a1 = 0 ... h8 = 63``). ``white[i]`` is the number of plies to mate with White to move and both
    sides playing perfectly (White mates as fast as possible, Black resists as long as possible);
    ``black[i]`` the same with Black to move (``0`` = Black is mated). Illegal placements, stalemates and
    positions where Black can take an undefended queen are :data:`INF`.

    The solution is the fixed point of ``white = 1 + min(black over White's moves)`` and
    ``black = 1 + max(white over Black's moves)``, iterated from the checkmates; move generation is
    vectorised over all placements (no python-chess), so ``tests/engine/test_engine_chess.py`` checks it
    against python-chess's rules.
    """

    def __init__(self) -> None:
        self.white, self.black = _solve_kqk()

    @staticmethod
    def index(wk: int, wq: int, bk: int) -> int:
        """Array index of a placement."""
        return int(wk) * 4096 + int(wq) * 64 + int(bk)

    def dtm(self, board: Any) -> int:
        """Plies to mate of a python-chess board (side to move taken from the board); :data:`INF` if drawn."""
        chess = require_chess()
        if board.is_checkmate():
            return 0
        queens = board.pieces(chess.QUEEN, chess.WHITE)
        if len(queens) != 1 or len(board.piece_map()) != 3:
            return INF  # the queen is gone (or not a KQK position)
        i = self.index(board.king(chess.WHITE), next(iter(queens)), board.king(chess.BLACK))
        return int(self.white[i] if board.turn == chess.WHITE else self.black[i])


def _solve_kqk() -> tuple[np.ndarray, np.ndarray]:
    """Retrograde solution of KQK by value iteration over explicit move lists (1-2 s, ~250 MB peak)."""
    sq = np.arange(64)
    file, rank = sq % 8, sq // 8
    ray = np.full((64, 8, 7), -1, dtype=np.int64)  # queen rays: square, direction, distance - 1
    step = np.full((64, 8), -1, dtype=np.int64)  # king steps
    for s in range(64):
        for d, (df, dr) in enumerate(_DIRECTIONS):
            for k in range(1, 8):
                f, r = file[s] + df * k, rank[s] + dr * k
                if 0 <= f < 8 and 0 <= r < 8:
                    ray[s, d, k - 1] = r * 8 + f
            step[s, d] = ray[s, d, 0]
    cheb = np.maximum(np.abs(file[:, None] - file[None, :]), np.abs(rank[:, None] - rank[None, :]))
    idx = np.arange(64**3)
    wk, wq, bk = idx // 4096, (idx // 64) % 64, idx % 64
    valid = (wk != wq) & (wk != bk) & (wq != bk) & (cheb[wk, bk] > 1)
    # squares the queen attacks with the black king removed (it cannot hide behind itself)
    attacked = np.zeros(idx.size, dtype=np.uint64)
    for d in range(8):
        alive = np.ones(idx.size, dtype=bool)
        for k in range(7):
            t = ray[wq, d, k]
            alive &= (t >= 0) & (t != wk)
            attacked[alive] |= np.left_shift(np.uint64(1), t[alive].astype(np.uint64))

    def hit(squares: np.ndarray) -> np.ndarray:
        return ((attacked >> squares.astype(np.uint64)) & np.uint64(1)).astype(bool)

    in_check = hit(bk)
    white_ok = valid & ~in_check  # with White to move, Black must not be in check
    src, dst = [], []
    for d in range(8):  # white king moves
        t = step[wk, d]
        ok = white_ok & (t >= 0) & (t != wq) & (cheb[np.maximum(t, 0), bk] > 1)
        src.append(idx[ok])
        dst.append(t[ok] * 4096 + wq[ok] * 64 + bk[ok])
    for d in range(8):  # queen moves (never a capture: only the black king is left)
        alive = white_ok.copy()
        for k in range(7):
            t = ray[wq, d, k]
            alive &= (t >= 0) & (t != wk) & (t != bk)
            src.append(idx[alive])
            dst.append(wk[alive] * 4096 + t[alive] * 64 + bk[alive])
    w_src, w_dst = _sorted_edges(src, dst)
    src, dst = [], []
    escape = np.zeros(idx.size, dtype=bool)  # Black can take an undefended queen: a draw
    for d in range(8):
        t = step[bk, d]
        tt = np.maximum(t, 0)
        ok = valid & (t >= 0) & (cheb[tt, wk] > 1)
        escape |= ok & (tt == wq) & (cheb[wq, wk] > 1)
        ok &= (tt != wq) & ~hit(tt)
        src.append(idx[ok])
        dst.append(wk[ok] * 4096 + wq[ok] * 64 + tt[ok])
    b_src, b_dst = _sorted_edges(src, dst)
    has_move = np.bincount(b_src, minlength=idx.size) > 0
    mate = valid & in_check & ~has_move & ~escape
    w_first, b_first = _group_starts(w_src), _group_starts(b_src)
    black = np.full(idx.size, INF, dtype=np.int32)
    black[mate] = 0
    white = np.full(idx.size, INF, dtype=np.int32)
    while True:
        new_white = np.full(idx.size, INF, dtype=np.int32)
        new_white[w_src[w_first]] = np.minimum(np.minimum.reduceat(black[w_dst], w_first) + 1, INF)
        new_black = np.full(idx.size, INF, dtype=np.int32)
        new_black[b_src[b_first]] = np.minimum(np.maximum.reduceat(new_white[b_dst], b_first) + 1, INF)
        new_black[escape] = INF
        new_black[mate] = 0
        if np.array_equal(new_white, white) and np.array_equal(new_black, black):
            return white.astype(np.int16), black.astype(np.int16)
        white, black = new_white, new_black


def _sorted_edges(src: list[np.ndarray], dst: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    s, d = np.concatenate(src), np.concatenate(dst)
    order = np.argsort(s, kind="stable")
    return s[order], d[order]


def _group_starts(sorted_src: np.ndarray) -> np.ndarray:
    return np.flatnonzero(np.r_[True, sorted_src[1:] != sorted_src[:-1]])


@functools.lru_cache(maxsize=1)
def tablebase() -> KQKTablebase:
    """The (cached) KQK tablebase."""
    return KQKTablebase()
