"""Zero-shot and per-dataset CInA on LaLonde's NSW trainees vs CPS controls (ATT; truth ~ $1,794).

    python examples/cina_lalonde.py [--per-dataset] [--plot outputs/lalonde_balance.png]

Runs on a laptop CPU in seconds (zero-shot) or minutes (per-dataset optimisation, N = 16,177).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from hf_causal import CInAModel
from hf_causal.data import load_benchmark_frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-dataset", action="store_true", help="also run per-dataset CInA (slower)")
    parser.add_argument("--plot", default=None, help="save a love plot and weight histogram to this PNG")
    args = parser.parse_args()

    data = load_benchmark_frame("lalonde_nsw_cps")
    x, t, y = data.frame[data.covariates], data.frame[data.treatment], data.frame[data.outcome]
    naive = y[t == 1].mean() - y[t == 0].mean()
    print(f"{data.name}: {len(t)} units, {int(t.sum())} treated; experimental ATT {data.true_att:,.0f}; naive {naive:,.0f}")

    model = CInAModel.from_pretrained("cina-zs-base")
    result = model.estimate(x, t, y, estimand="att")
    print("\n" + result.summary())
    if args.per_dataset:
        per_dataset = model.estimate(x, t, y, estimand="att", method="cina", progress=True)
        print("\n" + per_dataset.summary())
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
        result.plot_balance(ax=axes[0])
        result.plot_weights(ax=axes[1])
        fig.tight_layout()
        Path(args.plot).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(args.plot, dpi=120)
        print(f"saved {args.plot}")


if __name__ == "__main__":
    main()
