"""Effects per unit and the pretrained outcome model in the estimator, on simulations with known surfaces."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from support import tiny_cina_model  # noqa: E402

from hf_causal.cli import main  # noqa: E402

OUTCOME = {"outcome_hidden_size": 16, "outcome_num_layers": 1, "outcome_intermediate_size": 32,
           "outcome_kernel_temperatures": [1.0, 4.0]}


def heterogeneous(n: int = 600, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """tau(x) = 1 + 2 x1 (known), confounded through x0; returns the frame and the true effects."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    t = (rng.random(n) < 1 / (1 + np.exp(-x[:, 0]))).astype(int)
    tau = 1.0 + 2.0 * x[:, 1]
    y = x[:, 0] + 0.5 * x[:, 2] ** 2 + t * tau + 0.3 * rng.normal(size=n)
    frame = pd.DataFrame({"x0": x[:, 0], "x1": x[:, 1], "x2": x[:, 2], "treat": t, "y": y})
    return frame, tau


def test_kernel_cate_recovers_the_effect_surface():
    frame, tau = heterogeneous()
    model = tiny_cina_model(seed=0)  # no outcome network: the kernel ridge T-learner
    est = model.cate(frame[["x0", "x1", "x2"]], frame.treat, frame.y, calibrate=False)
    e = est.effects
    assert est.estimand == "cate" and est.outcome_model == "kernel" and list(e.index) == list(frame.index)
    assert np.corrcoef(e["cate"], tau)[0, 1] > 0.95 and abs(est.value - tau.mean()) < 0.15
    assert np.sqrt(np.mean((e["cate"] - tau) ** 2)) < 0.5
    assert (e["ci_low"] < e["cate"]).all() and (e["cate"] < e["ci_high"]).all() and not est.has_interval
    np.testing.assert_allclose(e["cate"], e["mu1"] - e["mu0"])
    # new rows: the kernel model's prediction depends on x only, so the context's own rows come back unchanged
    again = model.cate(frame[["x0", "x1", "x2"]], frame.treat, frame.y, X_new=frame[["x0", "x1", "x2"]].iloc[:50],
                       calibrate=False)
    np.testing.assert_allclose(again.effects["cate"], e["cate"].iloc[:50], atol=1e-9)
    ax = est.plot_effects(frame.x1)
    assert ax.get_xlabel() == "x1" and len(ax.lines) >= 1
    with pytest.raises(ValueError, match=r"X_new: its columns must be the context.s: missing \[.x2.\]"):
        model.cate(frame[["x0", "x1", "x2"]], frame.treat, frame.y, X_new=frame[["x0", "x1"]])


def test_an_untrained_outcome_network_is_the_kernel_model_in_every_estimate():
    frame, _ = heterogeneous(n=400, seed=1)
    x = frame[["x0", "x1", "x2"]]
    with_network = tiny_cina_model(seed=0, **OUTCOME)
    for estimand in ("ate", "att", "atc"):
        kernel = with_network.estimate(x, frame.treat, frame.y, estimand=estimand, outcome_model="kernel")
        pretrained = with_network.estimate(x, frame.treat, frame.y, estimand=estimand, outcome_model="pretrained")
        assert pretrained.outcome_model == "pretrained"
        assert pretrained.value == pytest.approx(kernel.value, rel=1e-6)
        assert pretrained.std_error == pytest.approx(kernel.std_error, rel=1e-6)
    cate = with_network.cate(x, frame.treat, frame.y)
    plain = tiny_cina_model(seed=0).cate(x, frame.treat, frame.y)
    # the network computes in float32 (surfaces equal to ~1e-7); the calibration slope is a regression on
    # pseudo-outcomes that scale residuals by N * w, so it agrees to ~1e-5 and the effects to ~1e-4
    assert cate.effects.attrs["heterogeneity_slope"] == pytest.approx(plain.effects.attrs["heterogeneity_slope"], abs=1e-4)
    np.testing.assert_allclose(cate.effects["cate"], plain.effects["cate"], atol=1e-3)
    assert cate.outcome_model == "pretrained"
    with pytest.raises(ValueError, match="in-context outcome network"):
        tiny_cina_model(seed=0).estimate(x, frame.treat, frame.y, outcome_model="pretrained")


def test_cli_writes_per_unit_effects(tmp_path, capsys):
    frame, tau = heterogeneous(n=300, seed=2)
    frame.to_csv(tmp_path / "d.csv", index=False)
    ckpt = tmp_path / "ckpt"
    tiny_cina_model(seed=0).save_pretrained(ckpt)
    out = tmp_path / "effects.csv"
    argv = ["estimate", str(tmp_path / "d.csv"), "--treatment", "treat", "--outcome", "y", "--model", str(ckpt),
            "--estimand", "cate", "--outcome-model", "kernel", "--output", str(out)]
    assert main(argv) == 0
    assert "per-unit effects" in capsys.readouterr().out
    written = pd.read_csv(out)
    assert list(written.columns) == [*frame.columns, "cate", "cate_std_error", "cate_ci_low", "cate_ci_high"]
    np.testing.assert_allclose(written[frame.columns], frame)
    assert np.corrcoef(written.cate, tau)[0, 1] > 0.9
    bad = argv[:8] + ["--estimand", "ate", "--output", str(out)]
    assert main(bad) == 1
    assert capsys.readouterr().err.strip().count("\n") == 0
    assert main(argv[:8] + ["--estimand", "cate", "--outcome-model", "none"]) == 1  # cate needs an outcome model
    assert "needs an outcome model" in capsys.readouterr().err


def test_the_ate_uses_its_documented_share_of_the_networks_correction(monkeypatch):
    """The augmented estimate is linear in the outcome surfaces, so with OUTCOME_NETWORK_SHARE = s it sits at s of
    the way from the kernel model's estimate to the whole correction's (docs/design.md §4.8). The residual trees
    (tested on their own) are off: where their gate opens they add a correction of their own."""
    import torch

    from hf_causal.cina import estimator

    frame, _ = heterogeneous(n=400, seed=2)
    x = frame[["x0", "x1", "x2"]]
    model = tiny_cina_model(seed=0, **OUTCOME)
    torch.manual_seed(1)
    with torch.no_grad():  # a network that corrects the kernel model, by amounts that vary from unit to unit (a
        # constant shift of an arm's surface cancels against the calibrated weights' residual correction)
        model.outcome_network.head.weight[:2] += torch.randn_like(model.outcome_network.head.weight[:2])
    share = estimator.OUTCOME_NETWORK_SHARE
    default = model.estimate(x, frame.treat, frame.y, outcome_model="pretrained", residual_trees=False).value
    values = {}
    for s in (0.0, 0.5, 1.0):
        monkeypatch.setattr(estimator, "OUTCOME_NETWORK_SHARE", s)
        values[s] = model.estimate(x, frame.treat, frame.y, outcome_model="pretrained", residual_trees=False).value
    kernel = model.estimate(x, frame.treat, frame.y, outcome_model="kernel").value
    assert values[0.0] == pytest.approx(kernel, rel=1e-9)
    assert abs(values[1.0] - kernel) > 1e-3
    assert values[0.5] == pytest.approx(kernel + 0.5 * (values[1.0] - kernel), rel=1e-9)
    assert 0 < share <= 1 and default == pytest.approx(kernel + share * (values[1.0] - kernel), rel=1e-9)


def test_the_pretrained_interval_adds_the_outcome_models_disagreement(monkeypatch):
    """SE^2 = (residual SE)^2 + gap^2, with gap = (estimate with the whole network correction) - (estimate with
    the kernel model), both measured through the public estimate (the surfaces enter linearly); the residual trees,
    tested on their own, off."""
    import torch

    from hf_causal.cina import estimator

    frame, _ = heterogeneous(n=400, seed=3)
    x = frame[["x0", "x1", "x2"]]
    model = tiny_cina_model(seed=0, **OUTCOME)
    torch.manual_seed(2)
    with torch.no_grad():
        model.outcome_network.head.weight[:2] += torch.randn_like(model.outcome_network.head.weight[:2])
    from hf_causal.cina import streaming

    monkeypatch.setattr(streaming, "INTERVAL_BALANCE_CHECK", False)  # the residual SE alone (each check is tested
    monkeypatch.setattr(streaming, "INTERVAL_WEIGHTS_CHECK", False)  # on its own)
    est = model.estimate(x, frame.treat, frame.y, outcome_model="pretrained", residual_trees=False)
    kernel = model.estimate(x, frame.treat, frame.y, outcome_model="kernel")
    monkeypatch.setattr(estimator, "OUTCOME_NETWORK_SHARE", 1.0)
    whole = model.estimate(x, frame.treat, frame.y, outcome_model="pretrained", residual_trees=False).value
    gap = whole - kernel.value
    assert abs(gap) > 1e-3
    assert est.std_error == pytest.approx(np.hypot(kernel.std_error, gap), rel=1e-9)
    assert est.ci_low == pytest.approx(est.value - 1.959964 * est.std_error, rel=1e-5)
    assert "disagreement" in est.interval


def test_auto_is_the_network_up_to_its_size_limit_and_the_kernel_model_above(monkeypatch):
    from hf_causal.cina import estimator

    frame, _ = heterogeneous(n=300, seed=4)
    x = frame[["x0", "x1", "x2"]]
    model = tiny_cina_model(seed=0, **OUTCOME)
    assert model.estimate(x, frame.treat, frame.y).outcome_model == "pretrained"  # the default is auto
    monkeypatch.setattr(estimator, "AUTO_NETWORK_MAX_UNITS", 299)
    above = model.estimate(x, frame.treat, frame.y)
    kernel = model.estimate(x, frame.treat, frame.y, outcome_model="kernel")
    assert above.outcome_model == "kernel" and above.value == kernel.value and above.std_error == kernel.std_error
    assert model.estimate(x, frame.treat, frame.y, outcome_model="pretrained").outcome_model == "pretrained"


def test_cli_draws_the_effects_against_a_covariate(tmp_path, capsys):
    import matplotlib.image

    frame, tau = heterogeneous(n=300, seed=2)
    frame.to_csv(tmp_path / "d.csv", index=False)
    ckpt = tmp_path / "ckpt"
    tiny_cina_model(seed=0).save_pretrained(ckpt)
    argv = ["estimate", str(tmp_path / "d.csv"), "--treatment", "treat", "--outcome", "y", "--model", str(ckpt),
            "--estimand", "cate", "--outcome-model", "kernel"]
    figure = tmp_path / "effects.png"
    assert main([*argv, "--plot", "x1", str(figure)]) == 0
    assert f"drew the effects against x1 in {figure}" in capsys.readouterr().out
    assert matplotlib.image.imread(figure).shape[0] > 100  # a real image was written
    for bad, message in ((["--plot", "nope", str(figure)], "'nope' is not a column of the data"),
                         (["--plot", "x1", str(tmp_path / "effects.gif")], "unsupported figure format '.gif'"),
                         (["--plot", "x1", str(tmp_path / "no" / "f.png")], "does not exist")):
        assert main([*argv, *bad]) == 1
        err = capsys.readouterr().err.strip()
        assert message in err and err.count("\n") == 0
    assert main([*argv[:-4], "--estimand", "ate", "--plot", "x1", str(figure)]) == 1
    assert "--plot is for per-unit effects" in capsys.readouterr().err
