"""The kernel outcome model does not extrapolate an arm's fit beyond the covariate range that arm was fitted on."""

from __future__ import annotations

import numpy as np
import pytest
from support import tiny_cina_model

from hf_causal.cina.outcome import KernelOutcomeModel
from hf_causal.cina.outcome_features import CovariateMap

OUTCOME = {"outcome_hidden_size": 16, "outcome_num_layers": 1, "outcome_intermediate_size": 32,
           "outcome_kernel_temperatures": [1.0, 4.0]}


def skewed_tail(n: int = 800, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A log-normal covariate whose upper tail is treated only; the control surface levels off there."""
    rng = np.random.default_rng(seed)
    x0, x1, b = rng.lognormal(0.0, 0.7, n), rng.normal(size=n), (rng.random(n) < 0.3).astype(float)
    t = ((x0 > np.quantile(x0, 0.93)) | (rng.random(n) < 0.35)).astype(int)
    mu0 = np.tanh(x0 - 1.5) + 0.5 * x1 + 0.3 * b
    y = mu0 + t * (1.0 + 0.2 * x1) + 0.3 * rng.normal(size=n)
    return np.column_stack([x0, x1, b]), t, y, mu0


def kernel_model(x: np.ndarray, t: np.ndarray, y: np.ndarray) -> tuple[KernelOutcomeModel, np.ndarray, np.ndarray]:
    covariates = CovariateMap(x, 2)
    x_std, features = covariates.standardized(x), covariates.balanced(x)
    return KernelOutcomeModel(x_std, features, t, y), x_std, features


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_control_fit_is_not_extrapolated_into_the_treated_only_tail(seed):
    x, t, y, mu0 = skewed_tail(seed=seed)
    model, x_std, features = kernel_model(x, t, y)
    tail = (t == 1) & (x[:, 0] > x[t == 0, 0].max())
    assert tail.sum() > 30
    assert np.abs(model.m0[tail] - mu0[tail]).max() < 0.6  # the truth levels off: the edge of the range is right
    # the same fit with the ranges removed extrapolates its squares and whitened kernel features by several SDs
    unbounded = tuple((np.full(features.shape[1], -np.inf), np.full(features.shape[1], np.inf),
                       np.full(x_std.shape[1], -np.inf), np.full(x_std.shape[1], np.inf)) for _ in range(2))
    model.input_ranges = unbounded
    _, m0_unbounded = model._predict_training_rows()
    assert np.abs(m0_unbounded[tail] - mu0[tail]).max() > 2.0
    # every control unit is inside its own arm's range: its prediction (and leave-one-out residual) is the fit's
    control = t == 0
    np.testing.assert_allclose(model.m0[control], m0_unbounded[control])


@pytest.mark.filterwarnings("ignore:poor overlap")  # the treated-only tail is the point of the data
def test_the_streamed_kernel_estimate_clips_as_the_network_path_does():
    # an untrained outcome network returns the kernel model it corrects (KernelOutcomeModel), while the kernel
    # estimate runs the chunked normal equations (ArmRidge): the two agree only if both clip the same way
    x, t, y, _ = skewed_tail(seed=3)
    model = tiny_cina_model(seed=0, **OUTCOME)
    for estimand in ("ate", "att"):
        kernel = model.estimate(x, t, y, estimand=estimand, outcome_model="kernel")
        pretrained = model.estimate(x, t, y, estimand=estimand, outcome_model="pretrained")
        assert pretrained.value == pytest.approx(kernel.value, rel=1e-6, abs=1e-6)
