"""Configuration of CInA (Causal Inference with Attention)."""

from __future__ import annotations

from transformers import PretrainedConfig


def optional_limit(name: str, value: float | None, unit: str) -> float | None:
    """An inference limit of the config: ``None`` (off) or a positive number of ``unit``."""
    if value is not None and not float(value) > 0:
        raise ValueError(f"{name} must be None or > 0 ({unit}), got {value}")
    return None if value is None else float(value)


class CInAConfig(PretrainedConfig):
    r"""Configuration of :class:`~hf_causal.cina.CInAModel`.

    The model never looks at raw feature identities: every covariate enters only through the
    dot-product kernel ``s_ij = x_i . x_j / d`` of per-dataset standardised covariates, so one
    checkpoint serves datasets with any number of covariates (variable ``d`` is handled by zero
    padding plus a feature mask; zero columns do not change dot products).

    Args:
        hidden_size: width of the per-unit hidden state of the value network.
        num_layers: number of kernel message-passing layers in the value network.
        kernel_temperatures: one attention head per temperature ``t``; head ``h`` smooths with
            ``softmax(t_h * s)``. Several temperatures give the value network several bandwidths.
        intermediate_size: width of the feed-forward block of each layer.
        balancing_temperature: initial temperature ``t`` of the final balancing layer's kernel
            ``E_ij = exp(t * s_ij)`` (learned in zero-shot training when ``learn_temperature``).
        learn_temperature: learn the balancing temperature during zero-shot training.
        lambda0: size-free regularisation. The penalty uses ``lambda = lambda0 / N**2`` on the attention
            matrix normalised so that the median unit's row sum is ``N``, which keeps the covariate-balance tolerance at the scale
            of sampling noise (``~ sqrt(lambda0 / N)``) whatever the dataset size (docs/design.md §3).
        hinge_smoothing: width of the softplus-smoothed hinge used for per-dataset optimisation
            (0 gives the exact hinge; training uses a small positive value for useful gradients).
        covariate_clip: standardised covariates are clipped to ``[-clip, clip]`` before the kernel (0: off),
            so that one extreme unit cannot dominate the exponential kernel.
        chunk_elements: attention scores held in memory at once (memory is linear in N).
        dropout: dropout inside the value network (training only).
        landmark_units: inference only (``forward(..., return_objective=False)``, which ``estimate`` uses):
            when a dataset has more units than this, the value network's kernel passes attend to this many
            landmark units (a seeded sample, stratified by arm) instead of all N, so they cost
            ``O(N * landmark_units)`` instead of ``O(N^2)``. The kernel smooths are ratios of kernel sums,
            which a random subset of keys estimates consistently. ``None`` or 0: exact (all units).
        outcome_hidden_size: width of the in-context outcome network (docs/design.md §4.8); 0 (the default of
            older checkpoints): the model has no outcome network.
        outcome_num_layers: kernel message-passing layers of the outcome network.
        outcome_kernel_temperatures: its bandwidths, one head each.
        outcome_intermediate_size: width of its feed-forward blocks.
        outcome_unit_features: number of per-row inputs (``hf_causal.cina.outcome_features.N_UNIT_FEATURES``).
        outcome_landmark_units: its keys are this many landmark context rows (a seeded sample stratified by arm)
            when a dataset has more, in training and at inference (``None`` or 0: exact).
        outcome_wide_network: whether the model has a second outcome network of the same shape, trained on a
            prior with larger effects (docs/design.md §4.8), which a dataset whose effect is larger than any the
            first was trained on is routed to.
        outcome_wide_effect_threshold: the routing rule: the kernel model's plug-in effect, in outcome SDs,
            above which (in absolute value) the wide network is used.
        outcome_row_limit: context rows whose own outcome lies more than this many outcome SDs from the mean keep
            the kernel model's predictions: the network's correction is not used for them (docs/design.md §4.8).
            ``None``: every row takes the network's.
        outcome_spread_limit: a dataset routed to the first outcome network keeps the kernel model's predictions
            when the kernel model's two surfaces differ in spread by more than this: ``|log(SD(m0) / SD(m1))|`` over
            the context rows, a shape its prior never showed (docs/design.md §4.8). ``None``: no check.
    """

    model_type = "cina"

    def __init__(
        self,
        hidden_size: int = 64,
        num_layers: int = 3,
        kernel_temperatures: list[float] | tuple[float, ...] = (0.5, 1.0, 2.0, 4.0),
        intermediate_size: int = 128,
        balancing_temperature: float = 1.0,
        learn_temperature: bool = False,
        lambda0: float = 0.1,
        hinge_smoothing: float = 0.0,
        covariate_clip: float = 5.0,
        chunk_elements: int = 2**24,
        dropout: float = 0.0,
        landmark_units: int | None = None,
        outcome_hidden_size: int = 0,
        outcome_num_layers: int = 2,
        outcome_kernel_temperatures: list[float] | tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 8.0),
        outcome_intermediate_size: int = 128,
        outcome_unit_features: int = 16,
        outcome_landmark_units: int | None = 256,
        outcome_wide_network: bool = False,
        outcome_wide_effect_threshold: float = 1.25,
        outcome_row_limit: float | None = None,
        outcome_spread_limit: float | None = None,
        **kwargs,
    ) -> None:
        if hidden_size <= 0 or num_layers < 0 or intermediate_size <= 0:
            raise ValueError("hidden_size and intermediate_size must be positive, num_layers >= 0")
        if lambda0 <= 0:
            raise ValueError(f"lambda0 must be positive, got {lambda0}")
        if not kernel_temperatures or any(t <= 0 for t in kernel_temperatures):
            raise ValueError("kernel_temperatures must be a non-empty list of positive numbers")
        self.hidden_size = int(hidden_size)
        self.num_layers = int(num_layers)
        self.kernel_temperatures = [float(t) for t in kernel_temperatures]
        self.intermediate_size = int(intermediate_size)
        self.balancing_temperature = float(balancing_temperature)
        self.learn_temperature = bool(learn_temperature)
        self.lambda0 = float(lambda0)
        self.hinge_smoothing = float(hinge_smoothing)
        self.covariate_clip = float(covariate_clip)
        self.chunk_elements = int(chunk_elements)
        self.dropout = float(dropout)
        if landmark_units is not None and int(landmark_units) < 0:
            raise ValueError(f"landmark_units must be None or >= 0, got {landmark_units}")
        self.landmark_units = int(landmark_units) if landmark_units else None
        if outcome_hidden_size < 0 or outcome_num_layers < 0 or outcome_intermediate_size <= 0:
            raise ValueError("outcome_hidden_size and outcome_num_layers must be >= 0, outcome_intermediate_size > 0")
        if not outcome_kernel_temperatures or any(t <= 0 for t in outcome_kernel_temperatures):
            raise ValueError("outcome_kernel_temperatures must be a non-empty list of positive numbers")
        self.outcome_hidden_size = int(outcome_hidden_size)
        self.outcome_num_layers = int(outcome_num_layers)
        self.outcome_kernel_temperatures = [float(t) for t in outcome_kernel_temperatures]
        self.outcome_intermediate_size = int(outcome_intermediate_size)
        self.outcome_unit_features = int(outcome_unit_features)
        self.outcome_landmark_units = int(outcome_landmark_units) if outcome_landmark_units else None
        if outcome_wide_network and not outcome_hidden_size:
            raise ValueError("outcome_wide_network needs an outcome network (outcome_hidden_size > 0)")
        if not float(outcome_wide_effect_threshold) > 0:
            raise ValueError(f"outcome_wide_effect_threshold must be > 0, got {outcome_wide_effect_threshold}")
        self.outcome_wide_network = bool(outcome_wide_network)
        self.outcome_wide_effect_threshold = float(outcome_wide_effect_threshold)
        self.outcome_row_limit = optional_limit("outcome_row_limit", outcome_row_limit, "outcome SDs")
        self.outcome_spread_limit = optional_limit("outcome_spread_limit", outcome_spread_limit, "a log ratio")
        super().__init__(**kwargs)
