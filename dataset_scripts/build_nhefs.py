"""Build the NHEFS smoking-cessation dataset (no ground truth; for demos) as an HF dataset.

Source: `causallib` (NHEFS.csv; falls back to `causaldata`).

    python dataset_scripts/build_nhefs.py --output-dir outputs/datasets/nhefs [--push-to-hub ORG/nhefs]
"""

from __future__ import annotations

import argparse

from hf_causal.data.benchmarks import load_benchmark_frame
from hf_causal.data.publish import DatasetBundle, benchmark_bundle, main


def make(args: argparse.Namespace) -> DatasetBundle:
    """Load NHEFS and wrap it with its card."""
    return benchmark_bundle(
        "nhefs",
        "NHEFS: quitting smoking and weight gain",
        {"default": lambda: load_benchmark_frame("nhefs")},
        summary=(
            "Real observational data from the NHANES I Epidemiologic Follow-up Study used throughout Hernán & "
            "Robins' *Causal Inference: What If*: did quitting smoking (`qsmk`) change weight gain (`wt82_71`, kg)? "
            "There is no ground truth; the book's adjusted estimates are about 3.4-3.5 kg."
        ),
        build=args.build,
    )


if __name__ == "__main__":
    main(make, "nhefs", doc=__doc__)
