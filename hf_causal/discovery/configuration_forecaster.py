"""Configuration of the causal-masked time-series forecaster used for lagged causal discovery."""

from __future__ import annotations

from transformers import PretrainedConfig


class ForecasterConfig(PretrainedConfig):
    r"""Configuration of :class:`~hf_causal.discovery.CausalForecasterModel`.

    The forecaster is a small decoder-only transformer. Each time step of a multivariate series is
    one token (a linear embedding of the ``n_vars`` vector plus a learned positional embedding over
    the window); a causal mask makes the output at position ``p`` a one-step-ahead forecast of
    ``x_{p+1}`` from ``x_{<=p}``.

    Args:
        n_vars: number of variables forecast (and fed in) at each time step.
        context_length: number of time steps in one input window. Causal discovery with lags up to
            ``max_lag`` needs ``context_length >= max_lag``.
        hidden_size: width of the token representations.
        num_layers: number of transformer blocks.
        num_heads: attention heads per block (must divide ``hidden_size``).
        intermediate_size: width of the feed-forward block.
        dropout: dropout on attention weights and residual branches (training only).
        layer_norm_eps: epsilon of the layer norms.
        initializer_range: standard deviation of the normal weight initialisation.
    """

    model_type = "hf_causal_forecaster"

    def __init__(
        self,
        n_vars: int = 1,
        context_length: int = 8,
        hidden_size: int = 64,
        num_layers: int = 2,
        num_heads: int = 4,
        intermediate_size: int = 128,
        dropout: float = 0.0,
        layer_norm_eps: float = 1e-5,
        initializer_range: float = 0.02,
        **kwargs,
    ) -> None:
        if int(n_vars) < 1:
            raise ValueError(f"n_vars must be >= 1, got {n_vars}")
        if int(context_length) < 1:
            raise ValueError(f"context_length must be >= 1, got {context_length}")
        if int(hidden_size) < 1 or int(num_heads) < 1 or int(hidden_size) % int(num_heads) != 0:
            raise ValueError(
                f"hidden_size ({hidden_size}) must be a positive multiple of num_heads ({num_heads})"
            )
        if int(num_layers) < 1 or int(intermediate_size) < 1:
            raise ValueError("num_layers and intermediate_size must be >= 1")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.n_vars = int(n_vars)
        self.context_length = int(context_length)
        self.hidden_size = int(hidden_size)
        self.num_layers = int(num_layers)
        self.num_heads = int(num_heads)
        self.intermediate_size = int(intermediate_size)
        self.dropout = float(dropout)
        self.layer_norm_eps = float(layer_norm_eps)
        self.initializer_range = float(initializer_range)
        super().__init__(**kwargs)
