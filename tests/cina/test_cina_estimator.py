"""User-facing estimates: known simulated effects, estimand calibration, input errors, overlap warnings."""

import numpy as np
import pandas as pd
import pytest
import torch
from support import tiny_cina_model

from hf_causal.cina import OverlapWarning
from hf_causal.cina.calibration import (
    calibrate_to_target,
    calibration_features,
    estimand_weights,
    imbalance_tolerance,
    standardize_columns,
    standardized_mean_differences,
)


@pytest.fixture(scope="module")
def tiny_model():
    return tiny_cina_model(seed=0)


def _confounded_linear(n=800, seed=0, effect=2.0):
    """Linear outcome, logistic propensity on the same covariates: naive is biased, truth = effect."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    t = (rng.random(n) < 1 / (1 + np.exp(-(1.2 * x[:, 0] - 0.8 * x[:, 1])))).astype(int)
    y = 3.0 * x[:, 0] - 2.0 * x[:, 1] + x[:, 2] + effect * t + rng.normal(size=n)
    return x, t, y


@pytest.mark.parametrize("estimand", ["ate", "att", "atc"])
def test_per_dataset_recovers_known_effect(tiny_model, estimand):
    x, t, y = _confounded_linear()
    naive = y[t == 1].mean() - y[t == 0].mean()
    res = tiny_model.estimate(x, t, y, estimand=estimand, method="cina", lambda0=3.0)
    assert abs(naive - 2.0) > 1.0  # the confounding is real
    assert abs(res.value - 2.0) < 0.25
    assert res.ci_low < 2.0 < res.ci_high
    assert res.estimand == estimand and res.method == "cina"


def test_calibration_hits_the_target_means_exactly():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 4))
    base = rng.random(300)
    target = np.array([0.3, -0.2, 0.1, 0.0])
    w, residual = calibrate_to_target(x, base, target)
    np.testing.assert_allclose(w @ x, target, atol=1e-6)
    assert residual < 1e-6 and abs(w.sum() - 1) < 1e-12 and (w >= 0).all()


def test_att_weights_fix_treated_and_balance_controls_to_treated():
    x, t, _ = _confounded_linear(n=500, seed=2)
    xs = (x - x.mean(0)) / x.std(0)
    w, _ = estimand_weights(xs, t, np.ones(len(t)) / len(t), "att")
    np.testing.assert_allclose(w[t == 1], 1 / t.sum())
    gap_before = np.abs(xs[t == 0].mean(0) - xs[t == 1].mean(0)).max()
    gap_after = np.abs(w[t == 0] @ xs[t == 0] - xs[t == 1].mean(0)).max()
    # balanced to within the usual 0.1 (the ridge leaves a few standard errors, docs/design.md §4.2)
    assert gap_before > 0.5 and gap_after < 0.1


def test_result_fields_and_balance_table(tiny_model):
    x, t, y = _confounded_linear(n=400, seed=3)
    frame = pd.DataFrame(x, columns=["age", "income", "score"])
    frame["region"] = pd.Categorical(np.where(x[:, 2] > 0, "north", "south"))
    res = tiny_model.estimate(frame, pd.Series(t), pd.Series(y), estimand="ate")
    assert list(res.balance.index) == ["age", "income", "score", "region=north", "region=south"]
    assert (res.balance["smd_after"].abs() < 0.1).all()  # the ATE calibration balances every mean
    assert res.balance["smd_before"].abs().max() > 0.3
    assert 0 < res.ess_control <= (t == 0).sum() and 0 < res.ess_treated <= (t == 1).sum()
    d = res.to_dict()
    for key in ("estimate", "ci_low", "ci_high", "estimand", "method", "n", "ess_treated", "ess_control", "seconds"):
        assert key in d
    assert res.ci_low < res.value < res.ci_high


def test_torch_and_numpy_inputs_agree(tiny_model):
    x, t, y = _confounded_linear(n=200, seed=4)
    a = tiny_model.estimate(x, t, y)
    b = tiny_model.estimate(torch.tensor(x), torch.tensor(t), torch.tensor(y))
    assert a.value == pytest.approx(b.value, rel=1e-5)


def test_plots_draw(tiny_model):
    import matplotlib

    matplotlib.use("Agg")
    x, t, y = _confounded_linear(n=200, seed=5)
    res = tiny_model.estimate(x, t, y)
    ax = res.plot_balance()
    assert len(ax.collections) == 2
    ax2 = res.plot_weights()
    assert len(ax2.patches) > 0


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda x, t, y: (np.where(np.arange(x.size).reshape(x.shape) == 7, np.nan, x), t, y), "NaN"),
        (lambda x, t, y: (x, t[:-1], y), "entries but covariates"),
        (lambda x, t, y: (x, t * 2, y), "binary"),
        (lambda x, t, y: (x, np.ones_like(t), y), "single arm"),
        (lambda x, t, y: (x, np.r_[np.ones(3), np.zeros(len(t) - 3)].astype(int), y), "too few"),
        (lambda x, t, y: (x, t, np.r_[y[:-1], np.inf]), "outcome contains NaN"),
        (lambda x, t, y: (x, t, y[:10]), "outcome has"),
    ],
)
def test_bad_input_is_rejected(tiny_model, mutate, match):
    x, t, y = _confounded_linear(n=60, seed=6)
    x, t, y = mutate(x, t, y)
    with pytest.raises(ValueError, match=match):
        tiny_model.estimate(x, t, y)


def test_unencodable_column_and_unknown_estimand(tiny_model):
    x, t, y = _confounded_linear(n=60, seed=7)
    frame = pd.DataFrame(x, columns=["a", "b", "c"])
    frame["when"] = pd.date_range("2020-01-01", periods=60)
    with pytest.raises(TypeError, match="when"):
        tiny_model.estimate(frame, t, y)
    with pytest.raises(ValueError, match="estimand"):
        tiny_model.estimate(x, t, y, estimand="late")


def test_no_overlap_warns(tiny_model):
    rng = np.random.default_rng(8)
    x = np.r_[rng.normal(-4, 0.3, size=(100, 2)), rng.normal(4, 0.3, size=(100, 2))]
    t = np.r_[np.zeros(100), np.ones(100)].astype(int)
    t[:3] = 1  # a few treated units among the controls: the only overlap
    t[100:103] = 0
    y = x.sum(1) + t
    with pytest.warns(OverlapWarning, match="effective sample size"):
        res = tiny_model.estimate(x, t, y, estimand="att")
    assert res.supported is False and "effective units" in res.support_issue
    assert res.to_dict()["supported"] is False and "NOT SUPPORTED BY THE DATA" in res.summary()


def test_a_column_that_separates_the_arms_never_reads_as_balanced():
    t = np.array([1, 1, 1, 0, 0, 0, 0])
    x = np.column_stack([t.astype(float), np.full(7, 2.0), [1.0, 2.0, 3.0, 1.0, 2.0, 3.0, 4.0]])
    smd = standardized_mean_differences(x, t)
    assert smd[0] == np.inf and smd[1] == 0.0  # separated (no spread in either arm) vs. constant everywhere
    assert smd[2] == pytest.approx((2.0 - 2.5) / np.sqrt(0.5 * (np.var([1, 2, 3]) + np.var([1, 2, 3, 4]))))
    assert standardized_mean_differences(-x, t)[0] == -np.inf
    assert standardized_mean_differences(x, t, np.full(7, 0.25))[0] == np.inf


def test_a_covariate_that_labels_the_treatment_stops_the_estimate(tiny_model):
    x, t, y = _confounded_linear(n=200, seed=9)
    frame = pd.DataFrame(x, columns=["a", "b", "c"]).assign(sample=np.where(t == 1, "nsw", "cps"))
    with pytest.raises(ValueError, match=r"covariate 'sample' \(one-hot \['sample=cps', 'sample=nsw'\]\) determines"):
        tiny_model.estimate(frame, t, y, estimand="att")
    with pytest.raises(ValueError, match="covariate 'x3' determines the treatment"):
        tiny_model.estimate(np.column_stack([x, t]), t, y, method="cina")


def _separated_by_a_combination(n=1000, seed=0, effect=2.0):
    """Treated iff x0 + x1 > 0: no single covariate separates the arms, their combination does (no overlap)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    t = (x.sum(1) > 0).astype(int)
    return x, t, x[:, 0] + effect * t + rng.normal(size=n)


def test_failed_overlap_diagnostics_mark_the_estimate_unsupported(tiny_model):
    x, t, y = _separated_by_a_combination()
    with pytest.warns(OverlapWarning):
        res = tiny_model.estimate(x, t, y, estimand="att")
    worst = res.balance["smd_after"].abs().max()
    assert worst > imbalance_tolerance(int(t.sum()), int((1 - t).sum()))  # the diagnostics do fail
    assert res.supported is False and "imbalanced" in res.support_issue
    assert res.to_dict()["support_issue"] == res.support_issue
    rng = np.random.default_rng(1)  # the same outcome with overlapping arms: supported, and near the truth
    t_ok = (rng.random(1000) < 1 / (1 + np.exp(-x.sum(1)))).astype(int)
    ok = tiny_model.estimate(x, t_ok, x[:, 0] + 2.0 * t_ok + rng.normal(size=1000), estimand="att")
    assert ok.supported is True and ok.support_issue == "" and abs(ok.value - 2.0) < 0.3


def test_small_randomised_samples_are_not_flagged_for_chance_imbalance(tiny_model):
    """The calibration balances to within sampling noise only, so the tolerance grows as the arms shrink."""
    assert imbalance_tolerance(10_000, 10_000) == 0.1
    assert imbalance_tolerance(30, 30) == pytest.approx(2 * np.sqrt(2 / 30))
    flagged = 0
    for seed in range(5):
        rng = np.random.default_rng(seed)
        x = rng.normal(size=(60, 8))
        t = np.r_[np.ones(30), np.zeros(30)].astype(int)
        flagged += tiny_model.estimate(x, t, x[:, 0] + t + rng.normal(size=60), estimand="att").supported is False
    assert flagged == 0


def _confounded_quadratic(n=3000, seed=0, effect=1.0):
    """Treatment depends on |x0| only, outcome on x0**2: the arms' means of x0 already agree, their second
    moments do not. Mean balancing leaves the bias; second-moment balancing removes it; truth = effect."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    x = np.column_stack([x, rng.random(n) < 0.5])  # a binary column: its square repeats it
    t = (rng.random(n) < 1 / (1 + np.exp(-(1.5 * np.abs(x[:, 0]) - 1.2)))).astype(int)
    y = 2.0 * x[:, 0] ** 2 + x[:, 1] + effect * t + rng.normal(size=n)
    return x, t, y


def test_calibration_features_add_squares_of_non_binary_columns_only():
    x, _, _ = _confounded_quadratic(n=500)
    xs = standardize_columns(x)
    np.testing.assert_array_equal(calibration_features(xs, 1), xs)
    feats = calibration_features(xs, 2)
    assert feats.shape == (500, 4 + 3)
    np.testing.assert_allclose(feats[:, 4:], standardize_columns(xs[:, :3] ** 2))
    with pytest.raises(ValueError, match="moments"):
        calibration_features(xs, 3)


@pytest.mark.parametrize("estimand", ["ate", "att"])
def test_second_moment_balancing_removes_quadratic_confounding(tiny_model, estimand):
    x, t, y = _confounded_quadratic()
    first = tiny_model.estimate(x, t, y, estimand=estimand, moments=1, outcome_model="none")
    second = tiny_model.estimate(x, t, y, estimand=estimand, moments=2, outcome_model="none")
    assert abs(first.value - 1.0) > 0.5  # mean balancing cannot see the x0**2 imbalance
    assert abs(second.value - 1.0) < 0.15
    assert second.ci_low < 1.0 < second.ci_high
    # the calibrated weights match the target's second moment of x0 (to within the ridge tolerance)
    w = second.weights
    target = (x[:, 0] ** 2).mean() if estimand == "ate" else (x[t == 1, 0] ** 2).mean()
    assert abs(w[t == 0] @ x[t == 0, 0] ** 2 - target) < 0.05


def test_moments_argument_is_validated(tiny_model):
    x, t, y = _confounded_linear(n=200)
    with pytest.raises(ValueError, match="moments"):
        tiny_model.estimate(x, t, y, moments=0)
    with pytest.raises(ValueError, match="outcome_model"):
        tiny_model.estimate(x, t, y, outcome_model="forest")


def _confounded_interaction(n=3000, seed=0, effect=1.0):
    """Treatment and outcome both depend on the product x0 * x1: means and squares of x0, x1 are balanced
    between the arms by design, so balancing weights alone stay biased; an outcome model that can fit the
    product removes the bias. Truth = effect (constant)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    inter = x[:, 0] * x[:, 1]
    t = (rng.random(n) < 1 / (1 + np.exp(-1.5 * np.clip(inter, -2, 2)))).astype(int)
    y = 2.0 * inter + x[:, 2] + effect * t + rng.normal(scale=0.5, size=n)
    return x, t, y


@pytest.mark.parametrize("estimand", ["ate", "att", "atc"])
def test_kernel_outcome_model_removes_bias_the_weights_cannot_see(tiny_model, estimand, monkeypatch):
    """Weights that balance means and squares only (``cross_moments=False``) miss the product."""
    from hf_causal.cina import streaming

    x, t, y = _confounded_interaction()
    weights_only = tiny_model.estimate(x, t, y, estimand=estimand, outcome_model="none", cross_moments=False)
    augmented = tiny_model.estimate(x, t, y, estimand=estimand, cross_moments=False)
    assert weights_only.outcome_model == "none" and augmented.outcome_model == "kernel"
    assert abs(weights_only.value - 1.0) > 0.4
    assert abs(augmented.value - 1.0) < 0.15
    np.testing.assert_array_equal(augmented.weights, weights_only.weights)  # the weights are not changed
    # the weights and the outcome model disagree, so the interval widens by the gap and stays around the truth
    assert augmented.std_error >= abs(weights_only.value - augmented.value) and augmented.ci_low < 1.0 < augmented.ci_high
    monkeypatch.setattr(streaming, "INTERVAL_WEIGHTS_CHECK", False)
    residual_only = tiny_model.estimate(x, t, y, estimand=estimand, cross_moments=False)
    # without that check the interval ignores the outcome model's own bias (a smooth kernel fitting a product): a
    # few SEs at most
    assert abs(residual_only.value - 1.0) < 4 * residual_only.std_error
    assert residual_only.std_error < 0.1  # residual sd 0.5 once the product is fitted, ~1,500 units per arm


@pytest.mark.parametrize("estimand", ["ate", "att", "atc"])
def test_cross_moments_balance_the_interaction_that_confounds(tiny_model, estimand):
    """The weights alone, balancing the most imbalanced pairwise product too (``cross_moments=True``), remove the
    bias of treatment and outcome that both depend on x0 * x1; truth = 1 (constant effect)."""
    x, t, y = _confounded_interaction()
    without = tiny_model.estimate(x, t, y, estimand=estimand, outcome_model="none")  # the default: no products
    with_cross = tiny_model.estimate(x, t, y, estimand=estimand, outcome_model="none", cross_moments=True)
    assert abs(without.value - 1.0) > 0.4
    assert abs(with_cross.value - 1.0) < 0.15 and abs(with_cross.value - 1.0) < 3 * with_cross.std_error
    # the calibrated arm's weighted mean of x0 * x1 matches its target population's
    inter = x[:, 0] * x[:, 1]
    target = {"ate": inter.mean(), "att": inter[t == 1].mean(), "atc": inter[t == 0].mean()}[estimand]
    for arm in {"ate": (0, 1), "att": (0,), "atc": (1,)}[estimand]:
        rows = t == arm
        weighted = with_cross.weights[rows] @ inter[rows] / with_cross.weights[rows].sum()
        assert abs(weighted - target) < 0.05 * inter.std()


def test_the_interval_adds_the_gap_to_the_other_balance_specification(tiny_model, monkeypatch):
    """SE^2 = (residual SE)^2 + (estimate balancing the other set of second moments - estimate)^2, both ways, the
    estimate itself unchanged; on an interaction confounder the unwidened interval misses the truth (1) and the
    widened one covers it. ``moments=1`` has no alternative and keeps the residual SE."""
    from hf_causal.cina import streaming

    x, t, y = _confounded_interaction(n=1500, seed=4)
    widened = {cross: tiny_model.estimate(x, t, y, outcome_model="none", cross_moments=cross) for cross in (False, True)}
    monkeypatch.setattr(streaming, "INTERVAL_BALANCE_CHECK", False)
    plain = {cross: tiny_model.estimate(x, t, y, outcome_model="none", cross_moments=cross) for cross in (False, True)}
    gap = plain[True].value - plain[False].value
    assert abs(gap) > 0.3
    for cross in (False, True):
        assert widened[cross].value == plain[cross].value
        assert widened[cross].std_error == pytest.approx(np.hypot(plain[cross].std_error, gap), rel=1e-9)
        assert "other set of moments" in widened[cross].interval and not plain[cross].interval
    assert not plain[False].ci_low <= 1.0 <= plain[False].ci_high
    assert widened[False].ci_low <= 1.0 <= widened[False].ci_high
    monkeypatch.setattr(streaming, "INTERVAL_BALANCE_CHECK", True)
    means_only = tiny_model.estimate(x, t, y, outcome_model="none", moments=1)
    assert not means_only.interval


def test_cross_pairs_pick_the_imbalanced_product_and_streamed_equals_in_memory(tiny_model, monkeypatch):
    """``choose_cross_pairs`` ranks x0 * x1 first (the only confounding product among 36), the in-memory balance
    columns are its standardised values, and the chunked passes give the same estimate as one chunk."""
    from hf_causal.cina import calibration
    from hf_causal.cina.calibration import balance_columns, cross_pairs_of

    x, t, y = _confounded_interaction(n=1500, seed=2)
    noise = np.random.default_rng(9).normal(size=(len(t), 6))
    with monkeypatch.context() as patch:
        patch.setattr(calibration, "MAX_CROSS_MOMENTS", 1)
        top = cross_pairs_of(standardize_columns(np.column_stack([x, noise])), t)
    assert (list(top.first), list(top.second)) == ([0], [1])
    xs = standardize_columns(x)
    assert len(cross_pairs_of(xs, t).first) == 3  # 2 per column, capped by the 3 pairs of 3 columns
    product = xs[:, 0] * xs[:, 1]
    np.testing.assert_array_equal(balance_columns(xs, t), calibration_features(xs))  # off by default
    cols = balance_columns(xs, t, cross_moments=True)
    scaled = (product - product.mean()) / product.std()
    assert np.abs(scaled).max() > 5  # a product's tail is long: the balanced column is clipped at 5 SDs
    np.testing.assert_allclose(cols[:, -3], np.clip(scaled, -5, 5), atol=1e-10)
    whole = tiny_model.estimate(x, t, y, cross_moments=True)
    chunked = tiny_model.estimate(pd.DataFrame(x, columns=["a", "b", "c"]).assign(t=t, y=y), treatment="t",
                                  outcome="y", chunk_rows=400, cross_moments=True)
    assert abs(whole.value - tiny_model.estimate(x, t, y).value) > 1e-6  # the option reaches the chunked passes
    assert abs(whole.value - chunked.value) < 1e-8 and abs(whole.std_error - chunked.std_error) < 1e-8


def test_augmented_effect_matches_its_closed_form_and_is_exact_for_a_true_outcome_model():
    from hf_causal.cina.outcome import augmented_effect, ridge_loo, target_population

    rng = np.random.default_rng(3)
    n = 400
    t = (rng.random(n) < 0.4).astype(int)
    y = rng.normal(size=n)
    m1, m0 = rng.normal(size=n), rng.normal(size=n)
    w = np.where(t == 1, rng.random(n), rng.random(n))
    for arm in (t == 1, t == 0):
        w[arm] /= w[arm].sum()
    p = np.ones(n) / n
    by_hand = (p @ m1 + w[t == 1] @ (y - m1)[t == 1]) - (p @ m0 + w[t == 0] @ (y - m0)[t == 0])
    assert augmented_effect(w, t, y, m1, m0, "ate") == pytest.approx(by_hand)
    np.testing.assert_allclose(target_population(t, "att"), (t == 1) / (t == 1).sum())
    # noiseless outcomes and the true outcome functions: any weights give the exact sample ATE
    y_true = np.where(t == 1, m1, m0)
    assert augmented_effect(np.full(n, 0.01), t, y_true, m1, m0, "ate") == pytest.approx(np.mean(m1 - m0))
    # ATT with the treated arm as its own population returns the treated mean exactly
    att = augmented_effect(np.where(t == 1, 1 / (t == 1).sum(), w), t, y, m1, m0, "att")
    assert att == pytest.approx(y[t == 1].mean() - (m0[t == 1].mean() + w[t == 0] @ (y - m0)[t == 0]))
    with pytest.raises(ValueError, match="overlap"):
        target_population(t, "overlap")
    # ridge LOO residuals are the exact leave-one-out errors at the chosen penalty
    z = rng.normal(size=(60, 3))
    target = z @ np.array([1.0, -2.0, 0.5]) + rng.normal(size=60)
    fit = ridge_loo(z, target)
    for i in (0, 17, 59):
        keep = np.arange(60) != i
        zc, yc = z[keep] - z[keep].mean(0), target[keep] - target[keep].mean()
        coef = np.linalg.solve(zc.T @ zc + fit.penalty * np.eye(3), zc.T @ yc)
        pred = (z[i] - z[keep].mean(0)) @ coef + target[keep].mean()
        assert fit.loo_residuals[i] == pytest.approx(target[i] - pred, rel=1e-8)


def test_outcome_models_fit_on_a_subsample_above_max_fit_units():
    """Above ``max_fit_units`` each arm's model is fitted on a seeded subsample; predictions, chunked, cover every
    unit, and the residuals of units outside the fit are their plain (out-of-sample) residuals."""
    from hf_causal.cina.outcome import kernel_outcome_predictions

    x, t, y = _confounded_interaction(n=2000, seed=5)
    xs = standardize_columns(x)
    full = kernel_outcome_predictions(xs, xs, t, y)
    sub = kernel_outcome_predictions(xs, xs, t, y, max_fit_units=400, chunk_rows=333)
    m1, m0, resid = sub
    exact_out_of_sample = np.isclose(resid, np.where(t == 1, y - m1, y - m0), rtol=0, atol=1e-12)
    assert exact_out_of_sample.sum() == len(y) - 800  # everyone but the 2 x 400 fitted units
    # a model fitted on 400 units per arm still fits the product term: predictions agree with the full fit
    assert np.corrcoef(sub[0], full[0])[0, 1] > 0.9 and np.corrcoef(sub[1], full[1])[0, 1] > 0.9


def test_per_dataset_above_the_exact_size_uses_landmarks_and_recovers_the_effect(tiny_model):
    """N = 5,000 (above EXACT_MAX_UNITS): the Nystrom kernel keeps each L-BFGS step O(N), and the estimate is as
    good as the exact path's on this design."""
    from hf_causal.cina.per_dataset import EXACT_MAX_UNITS

    x, t, y = _confounded_linear(n=5000, seed=11)
    assert len(t) > EXACT_MAX_UNITS
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small mat-vecs: a second thread only waits when CI's other core is busy
    try:
        res = tiny_model.estimate(x, t, y, estimand="att", method="cina")
    finally:
        torch.set_num_threads(threads)
    assert abs(res.value - 2.0) < 0.15 and res.ci_low < 2.0 < res.ci_high and res.supported


def test_the_interval_adds_the_gap_to_the_weights_only_estimate(tiny_model, monkeypatch):
    """An augmented estimate's SE^2 gains (weights-only estimate - estimate)^2, the weights-only estimate being the
    public ``outcome_model="none"`` one with the same weights; the estimate itself is unchanged, and the weights-only
    estimate keeps its own interval."""
    from hf_causal.cina import streaming

    x, t, y = _confounded_quadratic(n=1200, seed=5)
    widened = tiny_model.estimate(x, t, y, outcome_model="kernel")
    weights_only = tiny_model.estimate(x, t, y, outcome_model="none")
    monkeypatch.setattr(streaming, "INTERVAL_WEIGHTS_CHECK", False)
    plain = tiny_model.estimate(x, t, y, outcome_model="kernel")
    unchanged = tiny_model.estimate(x, t, y, outcome_model="none")
    gap = weights_only.value - plain.value
    assert abs(gap) > 1e-3 and widened.value == plain.value
    assert widened.std_error == pytest.approx(np.hypot(plain.std_error, gap), rel=1e-9)
    assert "weights-only" in widened.interval and "weights-only" not in plain.interval
    assert unchanged.std_error == weights_only.std_error and "weights-only" not in weights_only.interval
