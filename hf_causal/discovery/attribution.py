"""Lagged attribution scores from a trained forecaster.

For a window ``x_{t-W+1..t}`` the forecast of the last position, ``x_hat_{t+1, j}``, is attributed
to every lagged input ``x_{t+1-l, i}`` (``l = 1..max_lag``) and the absolute attributions are
averaged over windows:

* ``"gradient"``: ``mean |d x_hat_{t+1,j} / d x_{t+1-l,i}|`` (saliency; scale-free because every
  series is standardised);
* ``"input_x_gradient"``: ``mean |x_{t+1-l,i} * d x_hat_{t+1,j} / d x_{t+1-l,i}|``;
* ``"lrp"``: layer-wise relevance propagation as used by the method's authors, computed as
  gradient x input of the model run with ``lrp=True`` (attention probabilities and layer-norm scales
  detached, identity rule through GELU; Ali et al. 2022, Achtibat et al. 2024).

One backward pass per target variable gives the gradients of all windows in a batch at once
(windows are independent in the forward pass).
"""

from __future__ import annotations

import numpy as np
import torch

from .modeling_forecaster import CausalForecasterModel

ATTRIBUTION_METHODS = ("gradient", "input_x_gradient", "lrp")


def lagged_attributions(
    model: CausalForecasterModel,
    windows: np.ndarray | torch.Tensor,
    max_lag: int,
    method: str = "gradient",
    batch_size: int = 512,
) -> np.ndarray:
    """Mean absolute attributions of last-step forecasts to lagged inputs.

    Args:
        model: trained forecaster (put in eval mode here).
        windows: ``(n, W, n_vars)`` standardised input windows with ``max_lag <= W <= context_length``.
        max_lag: number of lags scored.
        method: one of :data:`ATTRIBUTION_METHODS`.
        batch_size: windows per backward pass.

    Returns:
        ``(n_vars, n_vars, max_lag)`` float array indexed ``[target, source, lag - 1]``.
    """
    if method not in ATTRIBUTION_METHODS:
        raise ValueError(f"unknown attribution method {method!r}; choose from {ATTRIBUTION_METHODS}")
    x_all = torch.as_tensor(np.asarray(windows, dtype=np.float32))
    if x_all.dim() != 3 or x_all.shape[-1] != model.config.n_vars:
        raise ValueError(f"windows must have shape (n, W, {model.config.n_vars}), got {tuple(x_all.shape)}")
    n, width, n_vars = x_all.shape
    if not 1 <= max_lag <= width:
        raise ValueError(f"max_lag must be in [1, window length {width}], got {max_lag}")
    model.eval()
    device = next(model.parameters()).device
    total = torch.zeros(n_vars, n_vars, max_lag, dtype=torch.float64)
    positions = torch.arange(width - 1, width - 1 - max_lag, -1)  # lag 1 .. max_lag
    use_input = method in ("input_x_gradient", "lrp")
    for start in range(0, n, batch_size):
        x = x_all[start : start + batch_size].to(device).requires_grad_(True)
        out = model(past_values=x, lrp=method == "lrp").predictions[:, -1, :]
        for j in range(n_vars):
            (grad,) = torch.autograd.grad(out[:, j].sum(), x, retain_graph=j < n_vars - 1)
            contrib = grad * x if use_input else grad
            lagged = contrib[:, positions, :].detach().abs()  # (b, max_lag, n_vars)
            total[j] += lagged.sum(dim=0).T.double().cpu()
    return (total / n).numpy()
