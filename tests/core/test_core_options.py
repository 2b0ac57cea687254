"""Estimator options: one definition, checked once, the same choices in the command line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from hf_causal.cli import build_parser
from hf_causal.core.options import (
    ESTIMANDS,
    METHODS,
    MOMENTS,
    OUTCOME_MODELS,
    PER_UNIT_ESTIMANDS,
    check_estimator_options,
)


def test_bad_options_are_named():
    check_estimator_options(estimand="atc", method="cina", moments=1, outcome_model="none")
    for kwargs, name in (({"estimand": "late"}, "estimand"), ({"method": "x"}, "method"),
                         ({"moments": 3}, "moments"), ({"outcome_model": "forest"}, "outcome_model")):
        with pytest.raises(ValueError, match=f"{name} must be one of"):
            check_estimator_options(**kwargs)
    with pytest.raises(TypeError, match="unknown estimator option"):
        check_estimator_options(alpha=0.1)


def test_the_cli_offers_exactly_these_choices():
    actions = {a.dest: a for a in build_parser()._subparsers._group_actions[0].choices["estimate"]._actions}
    assert tuple(actions["estimand"].choices) == ESTIMANDS + PER_UNIT_ESTIMANDS
    assert tuple(actions["method"].choices) == METHODS
    assert tuple(actions["moments"].choices) == MOMENTS and tuple(actions["outcome_model"].choices) == OUTCOME_MODELS


def test_options_import_no_model_stack():
    code = "import sys, hf_causal.core.options; print(sorted(m for m in ('torch', 'pandas') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"
