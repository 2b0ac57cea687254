"""How the public estimate and cate read what users pass: pandas pairing, column names, rows to predict for,
keywords, and the support flag; each against the estimate of the same data in its plain array form."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from support import tiny_cina_model

from hf_causal.cina import OverlapWarning


@pytest.fixture(scope="module")
def model():
    return tiny_cina_model(seed=0)


def confounded_frame(n: int = 600, seed: int = 0) -> pd.DataFrame:
    """Effect 2, confounded through x0; a categorical covariate with three levels shifts the outcome."""
    rng = np.random.default_rng(seed)
    x0, x1 = rng.normal(size=n), rng.normal(size=n)
    city = rng.choice(list("abc"), n)
    t = (rng.random(n) < 1 / (1 + np.exp(-x0))).astype(int)
    y = x0 + 0.5 * x1 + (city == "a") + 2.0 * t + rng.normal(size=n)
    return pd.DataFrame({"x0": x0, "x1": x1, "city": city, "t": t, "y": y}, index=pd.RangeIndex(100, 100 + n))


COVARIATES = ["x0", "x1", "city"]


def test_series_in_another_row_order_are_refused_not_paired_by_position(model):
    frame = confounded_frame()
    reordered = frame.sort_values("y")  # the same units, the labels kept, another order
    with pytest.raises(ValueError, match=r"treatment and covariates have different index labels \(at position 0"):
        model.estimate(frame[COVARIATES], reordered.t, reordered.y)
    with pytest.raises(ValueError, match="outcome and treatment have different index labels"):
        model.estimate(frame[COVARIATES].to_numpy()[:, :2], frame.t, reordered.y)
    with pytest.raises(ValueError, match="different index labels"):
        model.cate(frame[COVARIATES], reordered.t, reordered.y)
    # aligned by label, they are the arrays' estimate
    aligned = model.estimate(frame[COVARIATES], reordered.t.loc[frame.index], reordered.y.loc[frame.index])
    arrays = model.estimate(pd.get_dummies(frame[COVARIATES], prefix_sep="=", dtype=float).to_numpy(),
                            frame.t.to_numpy(), frame.y.to_numpy())
    assert aligned.value == pytest.approx(arrays.value, rel=1e-9)


def test_a_frame_with_column_names_is_the_arrays_estimate_and_cate(model):
    frame = confounded_frame()
    by_name = model.estimate(frame, "t", "y")
    by_arrays = model.estimate(frame[COVARIATES], frame.t, frame.y)
    assert by_name.value == pytest.approx(by_arrays.value, rel=1e-12) and by_name.outcome_model == "kernel"
    assert abs(by_name.value - 2.0) < 0.3
    subset = model.estimate(frame, "t", "y", columns=["x0", "city"])
    assert subset.value == pytest.approx(model.estimate(frame[["x0", "city"]], frame.t, frame.y).value, rel=1e-12)
    cate = model.cate(frame, "t", "y")
    np.testing.assert_allclose(cate.effects["cate"], model.cate(frame[COVARIATES], frame.t, frame.y).effects["cate"])
    assert list(cate.effects.index) == list(frame.index)
    # new rows taken from the same table may keep its treatment and outcome columns
    some = model.cate(frame, "t", "y", X_new=frame.head(3), calibrate=False).effects["cate"]
    np.testing.assert_allclose(some, model.cate(frame[COVARIATES], frame.t, frame.y, X_new=frame[COVARIATES].head(3),
                                                calibrate=False).effects["cate"])
    with pytest.raises(ValueError, match="treatment is the single value 1: pass one value per row, or, with a "
                                         "DataFrame, its column name as a string"):
        model.estimate(frame.set_axis(range(5), axis=1), 1, 4)
    # chunk_rows asks for the stream: the same estimate through the chunked passes
    streamed = model.estimate(frame, "t", "y", chunk_rows=250)
    assert streamed.value == pytest.approx(by_name.value, rel=1e-9)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda m, f: m.estimate(f, "t", "t"), ValueError, "treatment and the outcome are the same column 't'"),
        (lambda m, f: m.estimate(f, "t", "y", columns=["x0", "y"]), ValueError,
         "outcome column 'y' cannot also be a covariate"),
        (lambda m, f: m.estimate(f, "t", f.y.to_numpy()), ValueError, "both be column names .* got str and ndarray"),
        (lambda m, f: m.cate(f, "t", f.y), ValueError, "both must be names and the covariates a DataFrame"),
        (lambda m, f: m.estimate(f[COVARIATES], f.t, f.y, outcome_modle="none"), TypeError,
         r"unexpected keyword arguments \['outcome_modle'\]"),
        (lambda m, f: m.estimate(f[COVARIATES], f.t, f.y, estimand="overlap", outcome_model="kernel"), ValueError,
         "estimand='overlap' .* never augmented"),
        (lambda m, f: m.estimate(f[COVARIATES], f.t, f.y * 1e300), ValueError, r"outcome values up to .* rescale"),
    ],
)
def test_misuse_is_a_named_error_before_any_work(model, call, error, match):
    with pytest.raises(error, match=match):
        call(model, confounded_frame())


def test_new_rows_get_the_contexts_category_levels(model):
    frame = confounded_frame()
    x = frame[COVARIATES]
    full = model.cate(x, frame.t, frame.y, outcome_model="kernel", calibrate=False).effects["cate"]
    # the kernel model's prediction depends on x only, so any context rows come back with their own effects
    some = frame[frame.city == "a"].iloc[:3][COVARIATES]  # one level only: one-hot alone, it would lose two columns
    again = model.cate(x, frame.t, frame.y, X_new=some, outcome_model="kernel", calibrate=False).effects["cate"]
    np.testing.assert_allclose(again.to_numpy(), full.loc[some.index].to_numpy(), atol=1e-9)
    assert list(again.index) == list(some.index)
    one = model.cate(x, frame.t, frame.y, X_new=x.iloc[5], outcome_model="kernel", calibrate=False).effects["cate"]
    assert one.to_numpy() == pytest.approx([full.iloc[5]], abs=1e-9)
    with pytest.raises(ValueError, match=r"X_new: it has category levels that no context row has: \['city=zzz'\]"):
        model.cate(x, frame.t, frame.y, X_new=pd.DataFrame({"x0": [0.0], "x1": [0.0], "city": ["zzz"]}))
    with pytest.raises(ValueError, match="X_new: an array is read by position, but the context's categorical"):
        model.cate(x, frame.t, frame.y, X_new=np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"X_new: its values contain NaN .* \['x0'\]"):
        model.cate(x, frame.t, frame.y, X_new=some.assign(x0=np.nan))


def test_new_rows_as_arrays_are_read_by_position(model):
    frame = confounded_frame()
    x = frame[["x0", "x1"]].to_numpy()
    full = model.cate(x, frame.t, frame.y, outcome_model="kernel", calibrate=False).effects["cate"].to_numpy()
    row = model.cate(x, frame.t, frame.y, X_new=x[7], outcome_model="kernel", calibrate=False).effects["cate"]
    assert row.to_numpy() == pytest.approx([full[7]], abs=1e-9)
    with pytest.raises(ValueError, match="X_new: a 1-D array is one row and needs 2 values, got 3"):
        model.cate(x, frame.t, frame.y, X_new=np.zeros(3))
    with pytest.raises(ValueError, match=r"X_new: it has 3 columns, the context 2"):
        model.cate(x, frame.t, frame.y, X_new=np.zeros((4, 3)))


def test_cate_carries_the_ates_support_diagnosis(model):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(800, 2))
    t = (x.sum(1) > 0).astype(int)  # separated by x0 + x1, by neither alone: no overlap
    y = x[:, 0] + 2 * t + rng.normal(size=800)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OverlapWarning)
        ate = model.estimate(x, t, y)
        cate = model.cate(x, t, y)
    assert ate.supported is False and cate.supported is False and cate.support_issue == ate.support_issue
    assert f"NOT SUPPORTED BY THE DATA: {ate.support_issue}" in cate.summary()
    assert cate.to_dict()["supported"] is False
    ok = confounded_frame()
    assert model.cate(ok, "t", "y").supported is True


def test_the_raw_overlap_weights_are_not_blamed_on_the_overlap(model):
    frame = confounded_frame(n=1000, seed=1)
    raw = model.estimate(frame[["x0", "x1"]], frame.t, frame.y, estimand="overlap")
    assert raw.supported is False  # the untrained tiny model's weights do not balance x0
    assert "not calibrated" in raw.support_issue and "do not overlap" not in raw.support_issue
    assert model.estimate(frame[["x0", "x1"]], frame.t, frame.y).supported is True


def test_the_interval_level_is_a_keyword(model):
    frame = confounded_frame()
    usual = model.estimate(frame, "t", "y")
    ninety = model.estimate(frame, "t", "y", confidence=0.90)
    assert ninety.value == usual.value and ninety.std_error == usual.std_error and ninety.confidence == 0.90
    z = 1.6448536269514722  # the standard normal's 95th percentile
    assert ninety.ci_high - ninety.value == pytest.approx(z * usual.std_error, rel=1e-12)
    assert ninety.ci_high - ninety.ci_low < usual.ci_high - usual.ci_low
    assert model.estimate(frame, "t", "y", confidence=0.90, chunk_rows=250).ci_low == pytest.approx(ninety.ci_low)
    with pytest.raises(ValueError, match=r"confidence must be in \(0, 1\), got 95"):
        model.estimate(frame, "t", "y", confidence=95)


@pytest.mark.parametrize("chunk_rows", [0, -1, 2.5, None, True])
def test_a_chunk_size_must_be_a_positive_int(model, chunk_rows):
    with pytest.raises(ValueError, match="chunk_rows must be a positive int"):
        model.estimate(confounded_frame(), "t", "y", chunk_rows=chunk_rows)


def test_the_estimate_scales_with_the_outcome_down_to_float64s_limits():
    from support import tiny_outcome_model

    network = tiny_outcome_model()  # the in-context outcome network standardises the outcome too
    frame = confounded_frame()
    x, t, y = frame[["x0", "x1"]], frame.t, frame.y
    unscaled = network.estimate(x, t, y)
    assert unscaled.outcome_model == "pretrained"
    for scale in (1e-14, 1e-100, 1e100):
        scaled = network.estimate(x, t, y * scale)
        assert scaled.value / scale == pytest.approx(unscaled.value, rel=1e-6), scale
        assert scaled.std_error / scale == pytest.approx(unscaled.std_error, rel=1e-6), scale
    with pytest.raises(ValueError, match="outcome values vary by at most .* variance underflows"):
        network.estimate(x, t, y * 1e-170)


def test_a_covariate_too_faint_to_standardise_is_named(model):
    frame = confounded_frame()
    with pytest.warns(UserWarning, match=r"covariate columns \['x1'\] vary by less than 1e-12 .* treated as constant"):
        model.estimate(frame[["x0", "x1"]].assign(x1=frame.x1 * 1e-100), frame.t, frame.y)


def test_the_streamed_estimate_refuses_what_the_in_memory_one_refuses(model):
    frame = confounded_frame()
    # a covariate whose variance overflows: the in-memory check names it; the stream used to drop it silently
    with pytest.raises(ValueError, match=r"covariate columns \['x0'\] have values too large to standardise"):
        model.estimate(frame.assign(x0=frame.x0 * 1e200), "t", "y", chunk_rows=50)
    # outcomes out of float64's working range, named with their chunk
    with pytest.raises(ValueError, match=r"chunk 0 \(rows 0-49\): outcome values up to .* \(row 49\) .* overflows"):
        model.estimate(frame.assign(y=frame.y * 1e154), "t", "y", chunk_rows=50)
    with pytest.raises(ValueError, match=r"chunk 0 .*: outcome values vary by at most .* underflows"):
        model.estimate(frame.assign(y=frame.y * 1e-200), "t", "y", chunk_rows=50)
    with pytest.raises(ValueError, match=r"outcome is constant \(every row is 0.1\)"):
        model.estimate(frame.assign(y=0.1), "t", "y", chunk_rows=50)
    # a nullable treatment's missing value, with its row in the table
    treatment = frame.t.astype("boolean")
    treatment.iloc[77] = pd.NA
    with pytest.raises(ValueError, match=r"chunk 1 \(rows 50-99\), row 77: treatment 't' is missing"):
        model.estimate(frame.assign(t=treatment), "t", "y", chunk_rows=50)
    with pytest.raises(ValueError, match=r"covariates name the columns \['x0'\] more than once"):
        model.estimate(frame, "t", "y", columns=["x0", "x0"], chunk_rows=50)
    with pytest.raises(ValueError, match="the table has no rows"):
        model.estimate(iter([frame.iloc[:0]]), "t", "y")


def test_a_constant_outcome_is_refused_and_a_nearly_constant_one_keeps_the_kernel_model():
    from support import tiny_outcome_model

    network = tiny_outcome_model()
    frame = confounded_frame()
    x, t = frame[["x0", "x1"]], frame.t
    with pytest.raises(ValueError, match=r"outcome is constant \(every row is 0\)"):
        network.estimate(x, t, np.zeros(len(t)))
    with pytest.raises(ValueError, match="outcome is constant"):
        network.cate(x, t, np.full(len(t), 3.0))
    # variation at 1e-13 of the level: below what the outcome's standardisation resolves, so the network (which reads
    # outcomes in SDs) is withheld; the kernel model's estimate is the effect at its own scale (2 * 1e-13)
    tiny = 1.0 + 1e-13 * frame.y
    withheld = network.estimate(x, t, tiny)
    assert withheld.outcome_model == "kernel" and "constant up to rounding" in withheld.outcome_withheld
    kernel = network.estimate(x, t, tiny, outcome_model="kernel")
    assert withheld.value == pytest.approx(kernel.value, rel=1e-9)
    assert abs(withheld.value / 1e-13 - 2.0) < 0.3


def test_nullable_and_complex_columns_are_named(model):
    frame = confounded_frame()
    x = frame[COVARIATES]
    treatment = frame.t.astype("Int64")
    treatment.iloc[3] = pd.NA
    with pytest.raises(ValueError, match=r"treatment is missing \(NA\) at row 3"):
        model.estimate(x, treatment, frame.y)
    outcome = frame.y.astype("Float64")
    outcome.iloc[5] = pd.NA
    with pytest.raises(ValueError, match=r"outcome is missing \(NA\) at row 5"):
        model.estimate(x, frame.t, outcome)
    with pytest.raises(TypeError, match="covariate column 'z' is complex"):
        model.estimate(x.assign(z=frame.x0 + 1j), frame.t, frame.y)
    bad = x.copy()
    bad.iloc[7, 1] = np.inf
    with pytest.raises(ValueError, match=r"NaN or infinite values in columns \['x1'\] \(first at row 7\)"):
        model.estimate(bad, frame.t, frame.y)


@pytest.mark.parametrize(
    "options, error, match",
    [
        ({"cross_moments": "no"}, TypeError, "cross_moments must be True or False, got 'no'"),
        ({"moments": True}, ValueError, r"moments must be one of \(1, 2\), got True"),
        ({"moments": 1, "cross_moments": True}, ValueError, "cross_moments=True .* needs moments=2"),
    ],
)
def test_truthy_values_do_not_switch_options(model, options, error, match):
    frame = confounded_frame()
    with pytest.raises(error, match=match):
        model.estimate(frame[COVARIATES], frame.t, frame.y, **options)


def test_new_rows_far_outside_the_context_are_warned_of(model):
    from hf_causal.cina.cate import ExtrapolationWarning

    frame = confounded_frame()
    x = frame[COVARIATES]
    far = x.head(3).copy()
    far.iloc[2, 0] = 1e10
    with pytest.warns(ExtrapolationWarning, match=r"1 of 3 rows \(first: row 2\) .* range in \['x0'\]"):
        model.cate(x, frame.t, frame.y, X_new=far, outcome_model="kernel", calibrate=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ExtrapolationWarning)  # rows inside the context's range: no warning
        model.cate(x, frame.t, frame.y, X_new=x.head(3), outcome_model="kernel", calibrate=False)


def test_the_outcome_or_a_copy_of_the_treatment_among_the_covariates_is_refused(model):
    frame = confounded_frame()
    # X = frame.drop(columns=["t"]) keeps the outcome: balancing on it would give a wrong number without a word
    with pytest.raises(ValueError, match="covariate column 'y' equals the outcome on every row"):
        model.estimate(frame.drop(columns=["t"]), frame.t, frame.y)
    with pytest.raises(ValueError, match="covariate column 'y' equals the outcome on every row"):
        model.cate(frame.drop(columns=["t"]), frame.t, frame.y)
    with pytest.raises(ValueError, match="covariate 'copy' .*determines the treatment"):
        model.estimate(frame[COVARIATES].assign(copy=frame.t), frame.t, frame.y)


def test_new_rows_with_a_column_of_another_kind_are_named(model):
    frame = confounded_frame()
    x = frame[COVARIATES]
    as_text = x.head(5).astype({"x1": str})  # numbers read as strings would be one-hot beside the context's numbers
    with pytest.raises(ValueError, match="X_new: column 'x1' has dtype object where the context's has float64"):
        model.cate(x, frame.t, frame.y, X_new=as_text, outcome_model="kernel", calibrate=False)
    narrower = x.head(5).astype({"x1": "float32"})  # another numeric dtype is the same kind: accepted
    assert len(model.cate(x, frame.t, frame.y, X_new=narrower, outcome_model="kernel", calibrate=False).effects) == 5
