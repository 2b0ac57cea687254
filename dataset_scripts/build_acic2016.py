"""Build the ACIC 2016 challenge instances (10 shipped with causallib) as an HF dataset, one config each.

Source: `causallib` (datasets/data/acic_challenge_2016). Truth per unit: the challenge's mu0 and mu1.

    python dataset_scripts/build_acic2016.py --output-dir outputs/datasets/acic2016 [--push-to-hub ORG/acic2016]
"""

from __future__ import annotations

import argparse

from hf_causal.data.benchmarks import load_benchmark_frame
from hf_causal.data.publish import DatasetBundle, benchmark_bundle, main


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Script-specific options."""
    parser.add_argument(
        "--instances", type=int, nargs="+", default=list(range(1, 11)), help="instances (1..10)"
    )


def make(args: argparse.Namespace) -> DatasetBundle:
    """Load the requested instances and wrap them with their card."""
    instances = getattr(args, "instances", list(range(1, 11)))
    return benchmark_bundle(
        "acic2016",
        "ACIC 2016 causal inference challenge (10 instances)",
        {f"instance_{i}": (lambda i=i: load_benchmark_frame("acic2016", i)) for i in instances},
        summary=(
            "Semi-synthetic data from the 2016 Atlantic Causal Inference Conference competition: real covariates "
            "(4,802 units, 58 covariates from the Collaborative Perinatal Project) with simulated treatment "
            "assignment and outcomes. Each configuration is one instance (one replication of one of 10 of the 77 "
            "data-generating processes); `mu0`/`mu1` give the true conditional means, so the sample ATE/ATT/CATE "
            "are known."
        ),
        build=args.build,
    )


if __name__ == "__main__":
    main(make, "acic2016", add_arguments=add_arguments, doc=__doc__)
