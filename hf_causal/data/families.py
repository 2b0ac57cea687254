"""Named families of synthetic datasets: distributions over :class:`~hf_causal.data.scm.SCMConfig`.

Named families (:data:`FAMILIES`) randomise the :class:`SCMConfig` per dataset; dataset ``i`` of family
``F`` drawn with ``seed`` ``s`` uses generator seed ``F.index * 2**44 + s * 2**24 + i``, so families (and the
train / validation / test splits) never share a seed:

=========================  =================================================================================
``train``                  in-distribution: N in [100, 3000] (log-uniform), d in [1, 50], ER or scale-free
                           graphs with density in [0.2, 1.5], mechanisms linear / mlp / interactions, all
                           covariate types, confounding_strength in [0, 2], prognostic_alignment in
                           [0, 0.6], overlap in [0.02, 0.1].
``validation``             same distribution as ``train``, disjoint seeds.
``test``                   same distribution as ``train``, disjoint seeds.
``ood_mechanism``          as ``train`` but every random function is ``rff`` (a class never seen in train).
``ood_dense_graph``        as ``train`` but density in [3, 6] and parent probabilities of T / Y in [0.7, 1].
``ood_strong_confounding`` as ``train`` but confounding_strength in [3, 5] and prognostic_alignment in
                           [0.6, 0.9] (overlap still in [0.02, 0.1]).
``ood_weak_overlap``       as ``train`` but overlap in [0.001, 0.005] with confounding_strength in [2.5, 4],
                           so many propensities come close to 0 or 1.
``ood_large_n``            as ``train`` but N in [5000, 10000] (larger than any training dataset).
``outcome_train``          the wider prior of CInA's in-context outcome model: N in [50, 5000], d in [1, 100]
                           with 1-10 relevant covariates (parents of T, of Y), heteroscedastic noise
                           (gamma in [0, 1]), overlap in [0.005, 0.1], confounding_strength in [0, 3],
                           effect_heterogeneity in [0, 1.5]; mechanisms as ``train`` (``rff`` stays unseen).
``outcome_validation``     as ``outcome_train``, disjoint seeds.
``outcome_train_wide``     as ``outcome_train`` with effect_mean in [-4, 4] (not [-1, 1]) and right-skewed
                           surfaces: outcome_skew in [0, 1.5], the control surface alone bent on half the draws.
``outcome_validation_wide`` as ``outcome_train_wide``, disjoint seeds.
=========================  =================================================================================
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np

from .scm import COVARIATE_TYPES, GRAPHS, SCMConfig, SyntheticDataset, generate_dataset

__all__ = ["FAMILIES", "FamilySpec", "dataset_seed", "random_config", "sample_family"]

_SEED_BITS = 20  # user seeds per family: [0, 2**20)
_INDEX_BITS = 24  # datasets per (family, seed) stream: [0, 2**24)


@dataclass(frozen=True)
class FamilySpec:
    """A distribution over :class:`SCMConfig` (ranges are inclusive ``(low, high)``, drawn uniformly).

    ``index`` is the family's seed namespace (see :func:`dataset_seed`); ``n_units`` is drawn
    log-uniformly, ``n_covariates`` uniformly over the integers, the covariate mix from a flat Dirichlet.
    """

    name: str
    index: int
    description: str
    n_units: tuple[int, int] = (100, 3000)
    n_covariates: tuple[int, int] = (1, 50)
    graphs: tuple[str, ...] = GRAPHS
    density: tuple[float, float] = (0.2, 1.5)
    mechanisms: tuple[str, ...] = ("linear", "mlp", "interactions")
    covariate_types: tuple[str, ...] = COVARIATE_TYPES
    treatment_parent_prob: tuple[float, float] = (0.2, 0.7)
    outcome_parent_prob: tuple[float, float] = (0.3, 0.8)
    confounding_strength: tuple[float, float] = (0.0, 2.0)
    prognostic_alignment: tuple[float, float] = (0.0, 0.6)
    overlap: tuple[float, float] = (0.02, 0.1)
    treated_fraction: tuple[float, float] = (0.2, 0.6)
    effect_mean: tuple[float, float] = (-1.0, 1.0)
    effect_heterogeneity: tuple[float, float] = (0.0, 1.0)
    noise: tuple[float, float] = (0.1, 1.0)
    #: When set, ``(low, high)`` expected numbers of covariates that are parents of T and of Y: the parent
    #: probabilities become ``k / d`` with ``k`` drawn in the range, so large ``d`` means many irrelevant
    #: covariates (as in ACIC 2016); otherwise the probabilities above are used.
    relevant_covariates: tuple[float, float] | None = None
    noise_heteroscedasticity: tuple[float, float] = (0.0, 0.0)
    #: When set, ``(low, high)`` of ``SCMConfig.outcome_skew``, with the control arm alone bent on half the draws
    outcome_skew: tuple[float, float] | None = None


#: What ``outcome_train_wide`` adds to ``outcome_train``: average effects up to 4 SD of the control surface (IHDP's
#: surface B has 2-10, and a network trained on effects within 1 SD shrinks them: docs/design.md §4.8), and bent
#: surfaces
_LARGE_SKEWED_EFFECTS: dict[str, Any] = {"effect_mean": (-4.0, 4.0), "outcome_skew": (0.0, 1.5)}

FAMILIES: dict[str, FamilySpec] = {
    spec.name: spec
    for spec in (
        FamilySpec("train", 0, "in-distribution training family"),
        FamilySpec("validation", 1, "in-distribution validation family (same distribution, disjoint seeds)"),
        FamilySpec("test", 2, "in-distribution test family (same distribution, disjoint seeds)"),
        FamilySpec(
            "ood_mechanism", 3, "random Fourier feature mechanisms, never used in train", mechanisms=("rff",)
        ),
        FamilySpec(
            "ood_dense_graph",
            4,
            "dense covariate graphs and many treatment/outcome parents",
            density=(3.0, 6.0),
            treatment_parent_prob=(0.7, 1.0),
            outcome_parent_prob=(0.7, 1.0),
        ),
        FamilySpec(
            "ood_strong_confounding",
            5,
            "treatment logit slope 3-5, treatment score aligned with mu0 (0.6-0.9)",
            confounding_strength=(3.0, 5.0),
            prognostic_alignment=(0.6, 0.9),
        ),
        FamilySpec(
            "ood_weak_overlap",
            6,
            "propensities down to 0.001-0.005 with a steep treatment logit",
            overlap=(0.001, 0.005),
            confounding_strength=(2.5, 4.0),
        ),
        FamilySpec("ood_large_n", 7, "5,000-10,000 units (train has at most 3,000)", n_units=(5000, 10000)),
        *(
            FamilySpec(
                name,
                index,
                description,
                n_units=(50, 5000),
                n_covariates=(1, 100),
                overlap=(0.005, 0.1),
                confounding_strength=(0.0, 3.0),
                effect_heterogeneity=(0.0, 1.5),
                noise=(0.05, 1.5),
                relevant_covariates=(1.0, 10.0),
                noise_heteroscedasticity=(0.0, 1.0),
                **wider,
            )
            for name, index, description, wider in (
                ("outcome_train", 8, "the wide prior of the in-context outcome model: N 50-5,000, d 1-100 with "
                 "1-10 relevant covariates, heteroscedastic noise, weak overlap", {}),
                ("outcome_validation", 9, "the wide prior, disjoint seeds (validation of the outcome model)", {}),
                ("outcome_train_wide", 10, "the wide prior with effects up to 4 SD of mu0 and right-skewed surfaces "
                 "(outcome_skew 0-1.5, the control surface alone on half the draws)", _LARGE_SKEWED_EFFECTS),
                ("outcome_validation_wide", 11, "outcome_train_wide, disjoint seeds", _LARGE_SKEWED_EFFECTS),
            )
        ),
    )
}


def _get_family(family: str | FamilySpec) -> FamilySpec:
    if isinstance(family, FamilySpec):
        return family
    if not isinstance(family, str):
        raise TypeError(f"family must be a family name or a FamilySpec, got {type(family).__name__}")
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; choose one of {sorted(FAMILIES)}")
    return FAMILIES[family]


def random_config(family: str | FamilySpec, rng: np.random.Generator) -> SCMConfig:
    """Draw an :class:`SCMConfig` from a family's ranges using ``rng``."""
    spec = _get_family(family)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")

    def uni(bounds: tuple[float, float]) -> float:
        return float(rng.uniform(bounds[0], bounds[1]))

    lo, hi = spec.n_units
    n_units = int(round(math.exp(rng.uniform(math.log(lo), math.log(hi)))))
    n_covariates = int(rng.integers(spec.n_covariates[0], spec.n_covariates[1] + 1))
    mix = rng.dirichlet(np.ones(len(spec.covariate_types)))
    config = SCMConfig(
        n_units=min(max(n_units, lo), hi),
        n_covariates=n_covariates,
        graph=str(spec.graphs[int(rng.integers(len(spec.graphs)))]),
        density=uni(spec.density),
        mechanism=str(spec.mechanisms[int(rng.integers(len(spec.mechanisms)))]),
        covariate_mix={t: float(w) for t, w in zip(spec.covariate_types, mix)},
        treatment_parent_prob=uni(spec.treatment_parent_prob),
        outcome_parent_prob=uni(spec.outcome_parent_prob),
        confounding_strength=uni(spec.confounding_strength),
        prognostic_alignment=uni(spec.prognostic_alignment),
        overlap=uni(spec.overlap),
        treated_fraction=uni(spec.treated_fraction),
        effect_mean=uni(spec.effect_mean),
        effect_heterogeneity=uni(spec.effect_heterogeneity),
        noise=uni(spec.noise),
    )
    # the wider prior's extra draws come last, so the other families keep their random streams
    if spec.relevant_covariates is not None:
        config.treatment_parent_prob = min(1.0, uni(spec.relevant_covariates) / n_covariates)
        config.outcome_parent_prob = min(1.0, uni(spec.relevant_covariates) / n_covariates)
    if spec.noise_heteroscedasticity != (0.0, 0.0):
        config.noise_heteroscedasticity = uni(spec.noise_heteroscedasticity)
    if spec.outcome_skew is not None:
        config.outcome_skew = uni(spec.outcome_skew)
        config.outcome_skew_arms = "control" if rng.random() < 0.5 else "both"
    config.validate()
    return config


def dataset_seed(family: str | FamilySpec, seed: int, index: int) -> int:
    """Generator seed of dataset ``index`` of ``family`` drawn with ``seed``.

    ``family.index * 2**44 + seed * 2**24 + index``: distinct families, seeds and indices never collide
    (``0 <= seed < 2**20``, ``0 <= index < 2**24``).
    """
    spec = _get_family(family)
    for name, value, bits in (("seed", seed, _SEED_BITS), ("index", index, _INDEX_BITS)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"{name} must be an int, got {type(value).__name__}")
        if not 0 <= value < 2**bits:
            raise ValueError(f"{name} must be in [0, 2**{bits}), got {value}")
    return (spec.index << (_SEED_BITS + _INDEX_BITS)) + (int(seed) << _INDEX_BITS) + int(index)


def sample_family(
    name: str | FamilySpec, n_datasets: int | None, seed: int = 0, **overrides: Any
) -> Iterator[SyntheticDataset]:
    """Iterate over ``n_datasets`` datasets of a named family (``None``: endless, up to 2**24).

    Args:
        name: a key of :data:`FAMILIES` (or a :class:`FamilySpec`).
        n_datasets: how many datasets to yield; ``None`` for an endless stream (pretraining).
        seed: stream seed in ``[0, 2**20)``; dataset ``i`` uses :func:`dataset_seed` ``(name, seed, i)``.
        **overrides: SCMConfig fields to fix for every dataset (e.g. ``n_units=200`` for quick tests).

    Each dataset's ``params`` gains ``family``, ``family_seed`` and ``index``.
    """
    spec = _get_family(name)
    if n_datasets is not None:
        if isinstance(n_datasets, bool) or not isinstance(n_datasets, (int, np.integer)):
            raise TypeError(f"n_datasets must be an int or None, got {type(n_datasets).__name__}")
        if n_datasets < 0:
            raise ValueError(f"n_datasets must be >= 0, got {n_datasets}")
    bad = set(overrides) - {f.name for f in fields(SCMConfig)}
    if bad:
        raise ValueError(f"unknown SCMConfig fields in overrides: {sorted(bad)}")
    dataset_seed(spec, seed, 0)  # validates seed eagerly

    def _iterate() -> Iterator[SyntheticDataset]:
        i = 0
        while n_datasets is None or i < n_datasets:
            s = dataset_seed(spec, seed, i)
            config = random_config(spec, np.random.default_rng((s, 0xC0F16)))
            if overrides:
                config = replace(config, **overrides)
            ds = generate_dataset(config, s)
            ds.params.update({"family": spec.name, "family_seed": int(seed), "index": i})
            yield ds
            i += 1

    return _iterate()
