"""Build IHDP with Hill's response surfaces A and B (replications stacked, column `replication`).

Source: `econml` (data/ihdp/sim.csv); surfaces as econml.data.dgps.ihdp_surface_A/B(seed = replication).
Truth per unit: mu0 and mu1 of the simulated surface.

    python dataset_scripts/build_ihdp.py --n-replications 100 --output-dir outputs/datasets/ihdp [--push-to-hub ORG/ihdp]
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from hf_causal.data.benchmarks import BenchmarkData, load_benchmark_frame
from hf_causal.data.publish import DatasetBundle, benchmark_bundle, main


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Script-specific options."""
    parser.add_argument("--n-replications", type=int, default=100, help="seeds 0..n-1 per surface")


def stacked(name: str, n_replications: int) -> BenchmarkData:
    """All replications of one surface in one frame with a `replication` column."""
    if n_replications < 1:
        raise ValueError(f"--n-replications must be >= 1, got {n_replications}")
    reps = [load_benchmark_frame(name, r) for r in range(n_replications)]
    first = reps[0]
    frame = pd.concat([b.frame.assign(replication=b.replication) for b in reps], ignore_index=True)
    return BenchmarkData(
        frame=frame,
        treatment=first.treatment,
        outcome=first.outcome,
        covariates=first.covariates,
        true_ate=float(np.mean([b.true_ate for b in reps])),
        true_att=float(np.mean([b.true_att for b in reps])),
        mu0=frame["mu0"].to_numpy(),
        mu1=frame["mu1"].to_numpy(),
        name=name,
        description=first.description,
        citation=first.citation,
        license=first.license,
        source=first.source,
        truth_method=first.truth_method
        + f" per replication; the card's table averages over {n_replications} replications",
    )


def make(args: argparse.Namespace) -> DatasetBundle:
    """Build both surfaces and wrap them with their card."""
    n = getattr(args, "n_replications", 100)
    return benchmark_bundle(
        "ihdp",
        "IHDP semi-synthetic benchmark (Hill 2011, response surfaces A and B)",
        {"surface_A": lambda: stacked("ihdp_a", n), "surface_B": lambda: stacked("ihdp_b", n)},
        summary=(
            "The Infant Health and Development Program covariates (747 children, 25 covariates) with simulated "
            "outcomes from Hill's (2011) response surfaces: A (linear, constant effect 4) and B (exponential, "
            "heterogeneous effect, ATT = 4). Each replication (column `replication` = seed) redraws the surface "
            f"coefficients and the noise; {n} replications per surface. These follow econml's implementation "
            "and are not the published IHDP-100 files."
        ),
        build=args.build,
        size_category="10K<n<100K" if n * 747 >= 10_000 else "n<1K" if n * 747 < 1000 else "1K<n<10K",
    )


if __name__ == "__main__":
    main(make, "ihdp", add_arguments=add_arguments, doc=__doc__)
