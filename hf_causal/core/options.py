"""Estimator options shared by the CLI, the ``treatment-effect`` pipeline and CInA's estimator, and the seed check
every wing shares.

Kept free of heavy imports (no torch, no pandas) so that the command line can validate its arguments
before it loads the model stack. What each option means: docs/design.md §4.
"""

from __future__ import annotations

import numbers
from typing import Any

#: Estimands of a weighting estimate: the population ATE, the effect on the treated / the controls, and the
#: raw balancing-SVM target (an overlap-weighted effect).
ESTIMANDS = ("ate", "att", "atc", "overlap")
#: ``cina-zs``: one forward pass of a pretrained model; ``cina``: per-dataset optimisation.
METHODS = ("cina-zs", "cina")
#: Calibrated moments: means of the standardised covariates (1), plus the squares of the non-binary ones (2).
MOMENTS = (1, 2)
#: ``kernel``: augment the weights with a kernel ridge outcome model; ``pretrained``: with the checkpoint's
#: in-context outcome network (which corrects the kernel model); ``auto``: ``pretrained`` when the checkpoint
#: has an outcome network, else ``kernel``; ``none``: the weighted difference only.
OUTCOME_MODELS = ("auto", "kernel", "pretrained", "none")
#: Per-unit estimands (conditional effects, ``CInAModel.cate``), offered by the command line beside ESTIMANDS.
PER_UNIT_ESTIMANDS = ("cate",)

DEFAULT_ESTIMAND = "ate"
DEFAULT_METHOD = "cina-zs"
DEFAULT_MOMENTS = 2
#: ``auto``: the in-context outcome network where the checkpoint has one and the table is in memory (it passed its
#: ablation against the kernel model on the ATE benchmark's held-out suites, docs/design.md §4.8), else the kernel.
DEFAULT_OUTCOME_MODEL = "auto"
#: ``auto`` uses the in-context network on datasets of at most this many units and the kernel model above: the
#: network was pretrained on 50-5,000 units and benchmarked up to 10,000 (the ``ood_large_n`` suite); at 10^6 it
#: cost 4x the kernel model's time and 5x its memory, and its gap to the kernel model (a bias scale the interval
#: adds) does not shrink with N (docs/design.md §4.8). ``outcome_model="pretrained"`` uses it at any size.
AUTO_NETWORK_MAX_UNITS = 20_000

_CHOICES = {"estimand": ESTIMANDS, "method": METHODS, "moments": MOMENTS, "outcome_model": OUTCOME_MODELS}


def check_estimator_options(**options: object) -> None:
    """Raise a ``ValueError`` naming the first option outside its choices.

    Accepts any of ``estimand``, ``method``, ``moments``, ``outcome_model`` as keywords, e.g.
    ``check_estimator_options(estimand="ate", moments=3)`` raises ``moments must be one of (1, 2), got 3``; an
    explicit outcome model with ``estimand="overlap"`` (which is never augmented) is a ``ValueError`` too.
    """
    for name, value in options.items():
        if name not in _CHOICES:
            raise TypeError(f"unknown estimator option {name!r}; known: {sorted(_CHOICES)}")
        # True == 1 in Python: a bool is never a choice here (moments=True is not "one moment")
        if isinstance(value, bool) or value not in _CHOICES[name]:
            raise ValueError(f"{name} must be one of {_CHOICES[name]}, got {value!r}")
    if options.get("estimand") == "overlap" and options.get("outcome_model") in ("kernel", "pretrained"):
        raise ValueError(f"estimand='overlap' (the raw balancing-SVM target) is never augmented, so "
                         f"outcome_model={options['outcome_model']!r} does not apply: leave it 'auto' or 'none', or "
                         "use estimand='ate' / 'att' / 'atc' for an augmented estimate")


def check_seed(seed: Any, optional: bool = True) -> int | None:
    """``seed`` as an int (``None`` passed through when ``optional``); a ``TypeError`` for a non-integer and a
    ``ValueError`` for a negative one, which numpy's and torch's generators refuse with less clear words."""
    if seed is None and optional:
        return None
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        expected = "a non-negative integer or None" if optional else "a non-negative integer"
        raise TypeError(f"seed must be {expected}, got {seed!r}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    return int(seed)
