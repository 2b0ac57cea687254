"""User data for CInA's estimator: the validation and encoding of :mod:`hf_causal.data.inputs`, re-exported.

The functions live in the data layer (numpy and pandas only) so that the command line can read and check a
table before it imports the model stack.
"""

from ..data.inputs import (
    MAX_CATEGORY_LEVELS,
    MIN_UNITS_PER_ARM,
    check_aligned,
    check_arms_overlap,
    check_roles_apart,
    covariate_sources,
    encode_covariates,
    encode_new_rows,
    split_frame,
    validate_inputs,
    validate_outcome,
    validate_treatment,
)

__all__ = [
    "MAX_CATEGORY_LEVELS",
    "MIN_UNITS_PER_ARM",
    "check_arms_overlap",
    "covariate_sources",
    "check_aligned",
    "check_roles_apart",
    "encode_covariates",
    "encode_new_rows",
    "split_frame",
    "validate_inputs",
    "validate_outcome",
    "validate_treatment",
]
