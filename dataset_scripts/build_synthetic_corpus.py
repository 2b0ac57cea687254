r"""Build the CInA pretraining / evaluation corpus: many synthetic SCM datasets, one row per dataset.

Splits are the named families of hf_causal.data.families (train, validation, test and the ood_* test families),
written as parquet shards that stream (see hf_causal.data.corpus for the layout and columns).

    python dataset_scripts/build_synthetic_corpus.py --n-train 20000 --n-eval 500 \
        --output-dir outputs/datasets/synthetic_corpus [--push-to-hub ORG/synthetic_corpus]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from hf_causal.data.corpus import corpus_features, family_table_markdown, write_corpus
from hf_causal.data.families import FAMILIES
from hf_causal.data.publish import DatasetBundle, main


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Script-specific options."""
    parser.add_argument("--n-train", type=int, default=5000, help="datasets in the train family")
    parser.add_argument("--n-eval", type=int, default=200, help="datasets in every other family")
    parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=list(FAMILIES))
    parser.add_argument(
        "--seed", type=int, default=0, help="stream seed (the same seed gives the same corpus)"
    )
    parser.add_argument("--rows-per-shard", type=int, default=500)
    parser.add_argument("--rows-per-group", type=int, default=16)
    parser.add_argument("--max-units", type=int, default=None, help="cap N (quick builds and tests)")


def make(args: argparse.Namespace) -> DatasetBundle:
    """Describe the corpus; its writer generates the shards."""
    families = list(getattr(args, "families", FAMILIES))
    counts = {f: (args.n_train if f == "train" else args.n_eval) for f in families} if args.build else {}
    overrides = {"n_units": args.max_units} if getattr(args, "max_units", None) else {}

    def writer(folder: Path) -> None:
        write_corpus(
            folder,
            counts,
            seed=args.seed,
            rows_per_shard=args.rows_per_shard,
            rows_per_group=args.rows_per_group,
            **overrides,
        )

    features = corpus_features()
    columns = "\n".join(f"- `{name}`: `{feat!r}`" for name, feat in features.items())
    sections = {
        "Families (splits)": family_table_markdown()
        + "\n\nAll families share: ER or scale-free graphs, all four covariate types (Dirichlet mix), "
        "treatment-parent probability 0.2–0.7, outcome-parent probability 0.3–0.8, treated fraction "
        "0.2–0.6, effect mean −1…1, effect heterogeneity 0–1, noise 0.1–1 (unless the table says otherwise). "
        "Dataset *i* of family *F* with stream seed *s* uses generator seed `F.index·2^44 + s·2^24 + i`, so "
        "the splits never share a seed.",
        "Generator": (
            "Random structural causal models with a binary treatment (`hf_causal.data.scm`): a random DAG over "
            "the covariates (Erdős–Rényi or scale-free), nonlinear mechanisms (linear, random tanh MLPs, random "
            "Fourier features, pairwise interactions), mixed covariate types (Gaussian, log-normal, binary, "
            "categorical one-hot), a treatment with propensity `overlap + (1 − 2·overlap)·sigmoid(b + "
            "confounding·s(x))`, and `Y = mu_T(x) + noise`. Children see only observed covariates, so the "
            'effect is identified from (X, T, Y). `python -c "import hf_causal.data.scm as m; help(m)"` has '
            "the full model."
        ),
        "Layout and columns": (
            "`data/<family>-<k>-of-<K>.parquet` shards of `--rows-per-shard` datasets, row groups of "
            "`--rows-per-group` datasets, so `load_dataset(repo, split='train', streaming=True)` streams. "
            "One row per dataset:\n\n" + columns + "\n\n`X` is stored as float32; `ate`/`att`/`atc` are the "
            "sample estimands computed in float64 from `mu0`/`mu1` (`ate == mean(mu1 - mu0)`). "
            "`hf_causal.data.corpus.row_to_dataset(row)` rebuilds a `SyntheticDataset`."
        ),
        "How the truth was computed": (
            "`mu0`, `mu1` (true conditional means of the potential outcomes) and `propensity` (true P(T=1|X)) are "
            "outputs of the generator; ATE/ATT/ATC are their sample averages over all / treated / control units; "
            "`naive_difference` is the unadjusted contrast, kept to measure confounding bias."
        ),
    }
    return DatasetBundle(
        name="synthetic_corpus",
        pretty_name="hf-causal synthetic SCM corpus (CInA pretraining and OOD evaluation)",
        configs=None,
        config_splits={"default": families},
        summary=(
            "Thousands of observational datasets drawn from random structural causal models, each with its "
            "ground truth (per-unit mu0/mu1/propensity, sample ATE/ATT/ATC, the causal graph, the generator "
            "parameters). The `train` split pretrains zero-shot CInA; `validation`/`test` are in-distribution; "
            "the `ood_*` splits test other mechanisms, denser graphs, stronger confounding, weaker overlap and "
            "larger N than seen in training."
        ),
        sections=sections,
        license="apache-2.0",
        license_details="Apache-2.0 (generated data, hf-causal).",
        citation=(
            "Zhang, J., Jennings, J., Hilmkil, A., Pawlowski, N., Zhang, C. and Ma, C. (2023). Towards Causal "
            "Foundation Model: on Duality between Causal Inference and Attention. arXiv:2310.00809."
        ),
        size_category="1K<n<10K",
        writer=writer,
    )


if __name__ == "__main__":
    main(make, "synthetic_corpus", add_arguments=add_arguments, doc=__doc__)
