"""CInA: a permutation-equivariant attention model whose last layer solves optimal covariate balancing.

Architecture (all memory-linear in the number of units N):

1. Covariates are standardised per dataset; the only way they enter is the dot-product kernel
   ``s_ij = x_i . x_j / d`` (identity keys ``K = X / sqrt(d)``), so any number of covariates works.
2. *Kernel features*: for each head temperature ``t_h``, the local signed treatment balance
   ``sum_j softmax(t_h s)_ij W_j`` and the relative log-density ``log h^h_i``.
3. *Value network*: ``num_layers`` kernel message-passing layers (multi-head attention whose heads
   smooth with ``softmax(t_h s)``), no positional encodings, so unit order does not matter.
4. *Balancing layer* (docs/design.md §2): the network predicts each unit's dual weight ``a_i in (0, 1)``; the
   layer's values are ``v_i = a_i W_i / (lambda h_hat_i)``, its output ``out = softmax(t s) V``, its loss the
   penalised hinge, and the balancing weights are read back as ``alpha = lambda W h_hat V`` (clipped,
   normalised per arm). Parametrising ``V`` through ``a`` keeps the read-out well-conditioned; the
   objective and the read-out are exactly those of the attention-form SVM.

This file ships as Hub remote code (docs/design.md §1): it imports only relatively within this folder, and the
library-only parts (the estimator, bundled checkpoint names) are imported absolutely inside ``try`` blocks.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers.utils import ModelOutput

from .attention import chunked_attention, landmark_indices
from .balancing import (
    balancing_layer,
    balancing_objective,
    identity_keys,
    masked_standardize,
    penalty_lambda,
    weights_from_scaled_values,
)
from .configuration_cina import CInAConfig
from .kernel_layers import KernelMessageLayer, gather_units
from .outcome_network import InContextOutcomeNetwork, reset_outcome_head

if TYPE_CHECKING:
    from typing import Self  # Python 3.11+; annotations are never evaluated here (3.10 is supported)


@dataclass
class CInAOutput(ModelOutput):
    """Output of :class:`CInAModel`.

    Attributes:
        loss: mean over datasets of the per-dataset penalised hinge loss (divided by each dataset's N).
        per_dataset_loss: ``(B,)`` the same, per dataset.
        weights: ``(B, N)`` float64 balancing weights, >= 0, summing to 1 within each arm (0 on padding).
        values: ``(B, N)`` the balancing layer's scalar values ``V``.
        beta0: ``(B,)`` the SVM offset.
        effect: ``(B,)`` float64 ``sum_i alpha_i W_i Y_i`` when outcomes were given (the overlap-weighted
            balancing estimand; :meth:`CInAModel.estimate` calibrates to ATE/ATT/ATC).
        log_h_hat: ``(B, N)`` log of the normalised attention row sums of the balancing layer.
        dual: ``(B, N)`` the predicted SVM dual variables ``a in (0, 1)`` (comparable with
            :func:`~hf_causal.cina.balancing.svm_dual_coefficients`).
    """

    loss: torch.Tensor | None = None
    per_dataset_loss: torch.Tensor | None = None
    weights: torch.Tensor | None = None
    values: torch.Tensor | None = None
    beta0: torch.Tensor | None = None
    effect: torch.Tensor | None = None
    log_h_hat: torch.Tensor | None = None
    dual: torch.Tensor | None = None


class CInAPreTrainedModel(PreTrainedModel):
    """Base class wiring :class:`CInAConfig` and the bundled-checkpoint names into ``from_pretrained``."""

    config_class = CInAConfig
    base_model_prefix = "cina"
    main_input_name = "covariates"
    _no_split_modules = ["KernelMessageLayer"]

    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, CInAModel):
            with torch.no_grad():
                module.log_balancing_temperature.fill_(math.log(module.config.balancing_temperature))
        if getattr(module, "is_outcome_head", False):  # an untrained outcome network is the kernel model
            reset_outcome_head(module)
        elif isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, *args: Any, **kwargs: Any) -> Self:
        """Load a checkpoint: a bundled name (``"cina-zs-base"``), a local folder, or a Hub id (safetensors only)."""
        try:  # the installed library knows the bundled names; as Hub remote code there are none
            from hf_causal.hub.checkpoints import resolve_checkpoint
        except ImportError:
            pass
        else:
            pretrained_model_name_or_path = resolve_checkpoint(pretrained_model_name_or_path)
        kwargs.setdefault("use_safetensors", True)
        want_info = kwargs.pop("output_loading_info", False)
        where = f"{pretrained_model_name_or_path} (config.json, model.safetensors)"
        try:
            model, info = super().from_pretrained(pretrained_model_name_or_path, *args, output_loading_info=True,
                                                  **kwargs)
        except (ValueError, TypeError, KeyError, RuntimeError) as err:
            if not os.path.isdir(pretrained_model_name_or_path):
                raise
            # a readable folder whose config values or tensor shapes do not make this model: say which folder
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise ValueError(f"{where} does not load as a {cls.__name__}: {reason}") from err
        loaded_type = None
        if "config" not in kwargs:  # the folder's own config.json: transformers only warns about another type
            options = {k: kwargs[k] for k in ("cache_dir", "revision", "token", "local_files_only", "subfolder")
                       if k in kwargs}
            loaded_type = cls.config_class.get_config_dict(pretrained_model_name_or_path, **options)[0].get("model_type")
        check_loaded(model, info, where, loaded_type)
        return (model, info) if want_info else model


def check_loaded(model: nn.Module, info: dict[str, Any], where: str, loaded_type: str | None = None) -> None:
    """Refuse a load that would give a silently different model: a tensor the weights lack (transformers would
    initialise it at random, so every load estimates differently), one they hold for no module of this config
    (a part of the checkpoint dropped), a config of another model type, or weights that are not finite."""
    model_type = type(model.config).model_type  # the class's: an instance may carry the file's value
    if loaded_type is not None and loaded_type != model_type:
        raise ValueError(f"{where} is a {loaded_type!r} checkpoint, not a {model_type!r} one")
    for kind in ("missing_keys", "unexpected_keys", "mismatched_keys"):
        keys = sorted(str(k) for k in info.get(kind) or ())
        if keys:
            what = {"missing_keys": "lacks the tensors", "unexpected_keys": "holds tensors no module of its config "
                    "has", "mismatched_keys": "has tensors of the wrong shape"}[kind]
            raise ValueError(f"{where} {what} {keys[:5]}{' ...' if len(keys) > 5 else ''}: it does not load as a "
                             f"{type(model).__name__} without making up weights")
    for name, tensor in model.state_dict().items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise ValueError(f"{where}: the tensor {name!r} holds NaN or infinite values")


class CInAModel(CInAPreTrainedModel):
    """Zero-shot CInA (Algorithm 3): one forward pass turns a dataset ``(X, T)`` into balancing weights.

    Inputs are batches of datasets padded to a common number of units ``N`` and covariates ``d``:

    * ``covariates`` ``(B, N, d)`` float, ``treatment`` ``(B, N)`` in {0, 1};
    * ``attention_mask`` ``(B, N)`` 1 for real units, 0 for padding (default: all real);
    * ``feature_mask`` ``(B, d)`` 1 for real covariates (default: all real);
    * ``outcome`` ``(B, N)`` optional, to get ``effect``.

    Padded units are excluded from every softmax, row sum, loss term and normalisation, so a dataset
    gets the same weights alone or padded in a batch. Use :meth:`estimate` for user-facing estimates.
    """

    def __init__(self, config: CInAConfig) -> None:
        super().__init__(config)
        heads = len(config.kernel_temperatures)
        # Always a parameter so a learned value travels with the checkpoint; detached unless learned.
        self.log_balancing_temperature = nn.Parameter(torch.tensor(math.log(config.balancing_temperature)))
        self.embed = nn.Linear(1 + 2 * heads, config.hidden_size)
        self.layers = nn.ModuleList(
            KernelMessageLayer(config.hidden_size, config.intermediate_size, heads, config.dropout, config.chunk_elements)
            for _ in range(config.num_layers)
        )
        self.final_norm = nn.LayerNorm(config.hidden_size)
        self.dual_head = nn.Linear(config.hidden_size, 1)
        self.offset_head = nn.Linear(config.hidden_size, 1)
        # potential outcomes learned in context (docs/design.md §4.8); absent from checkpoints without one
        self.outcome_network = InContextOutcomeNetwork(config) if config.outcome_hidden_size else None
        # the same network trained on larger effects, for datasets beyond the first one's prior (design §4.8)
        wide = config.outcome_hidden_size and getattr(config, "outcome_wide_network", False)
        self.outcome_network_wide = InContextOutcomeNetwork(config) if wide else None
        self.post_init()

    # -- helpers ---------------------------------------------------------------------------------

    @staticmethod
    def prepare_inputs(
        covariates: torch.Tensor,
        treatment: torch.Tensor,
        attention_mask: torch.Tensor | None,
        feature_mask: torch.Tensor | None,
        clip: float = 0.0,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Validate shapes; return ``(x_std, signs, unit_mask, n_features)`` (``x_std`` clipped at ``+-clip``)."""
        if covariates.dim() == 2:
            raise ValueError("covariates must be (batch, units, features); add a batch dimension")
        if covariates.dim() != 3:
            raise ValueError(f"covariates must be 3-D (batch, units, features), got shape {tuple(covariates.shape)}")
        batch, n, d = covariates.shape
        if treatment.shape != (batch, n):
            raise ValueError(f"treatment must have shape {(batch, n)}, got {tuple(treatment.shape)}")
        unit_mask = (
            torch.ones(batch, n, dtype=torch.bool, device=covariates.device)
            if attention_mask is None
            else attention_mask.bool()
        )
        if unit_mask.shape != (batch, n):
            raise ValueError(f"attention_mask must have shape {(batch, n)}, got {tuple(unit_mask.shape)}")
        fmask = (
            torch.ones(batch, d, dtype=covariates.dtype, device=covariates.device)
            if feature_mask is None
            else feature_mask.to(covariates.dtype)
        )
        if fmask.shape != (batch, d):
            raise ValueError(f"feature_mask must have shape {(batch, d)}, got {tuple(fmask.shape)}")
        x = torch.where(unit_mask.unsqueeze(-1), covariates, torch.zeros_like(covariates))
        if not torch.isfinite(x).all():
            raise ValueError("covariates contain NaN or infinite values")
        x_std = masked_standardize(x, unit_mask, clip) * fmask.unsqueeze(1)
        n_features = fmask.sum(-1).clamp_min(1.0)
        signs = (2.0 * treatment.to(covariates.dtype) - 1.0) * unit_mask.to(covariates.dtype)
        return x_std, signs, unit_mask, n_features

    def balancing_temperature(self) -> torch.Tensor:
        """The balancing layer's kernel temperature ``t``."""
        log_t = self.log_balancing_temperature
        return (log_t if self.config.learn_temperature else log_t.detach()).exp()

    # -- forward ---------------------------------------------------------------------------------

    def forward(
        self,
        covariates: torch.Tensor,
        treatment: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        feature_mask: torch.Tensor | None = None,
        outcome: torch.Tensor | None = None,
        return_objective: bool = True,
        landmark_units: int | None = None,
        **kwargs: Any,
    ) -> CInAOutput:
        """Predict balancing weights for each dataset in the batch (see class docstring).

        ``return_objective=False`` (inference) skips the balancing layer's attention pass and its loss:
        the weights depend only on the predicted duals, so ``loss``, ``values`` and ``log_h_hat`` are then
        ``None``. Only then may the value network attend to landmarks (``landmark_units``, default
        ``config.landmark_units``; 0 forces exact attention).
        """
        x_std, signs, unit_mask, n_features = self.prepare_inputs(
            covariates, treatment, attention_mask, feature_mask, self.config.covariate_clip
        )
        batch, n, _ = x_std.shape
        heads = len(self.config.kernel_temperatures)
        chunk = self.config.chunk_elements
        mask_f = unit_mask.to(x_std.dtype)
        if landmark_units and return_objective:
            raise ValueError("landmark_units is inference-only: pass return_objective=False (the loss needs exact kernels)")
        if landmark_units is None and not return_objective:
            landmark_units = self.config.landmark_units
        n_real = unit_mask.sum(-1)
        use_landmarks = bool(landmark_units) and int(n_real.min()) > int(landmark_units)

        # Kernel features for all heads (plus the balancing kernel, when the objective is wanted) in one
        # stacked attention pass.
        temps = torch.tensor(self.config.kernel_temperatures, dtype=x_std.dtype, device=x_std.device)
        if return_objective:
            temps = torch.cat([temps, self.balancing_temperature().to(x_std.dtype).reshape(1)])
        stack = len(temps)
        all_keys = torch.cat([identity_keys(x_std, n_features, t) for t in temps], dim=0)  # (stack*B, N, d)
        stacked_signs = signs.repeat(stack, 1).unsqueeze(-1)
        if use_landmarks:
            landmarks = landmark_indices(signs, unit_mask, int(landmark_units)).repeat(stack, 1)
            keys, key_signs, key_mask = gather_units(all_keys, landmarks), gather_units(stacked_signs, landmarks), None
        else:
            landmarks, keys, key_signs, key_mask = None, all_keys, stacked_signs, unit_mask.repeat(stack, 1)
        local_balance, lse = chunked_attention(all_keys, keys, key_signs, key_mask, chunk_elements=chunk)
        local_balance = local_balance.squeeze(-1).reshape(stack, batch, n)
        lse = lse.reshape(stack, batch, n)
        if use_landmarks:  # a sum over M landmarks estimates (M / N) of the sum over all units
            lse = lse + torch.log(n_real.to(lse.dtype) / int(landmark_units)).reshape(1, batch, 1)
        log_density = lse - (lse * mask_f).sum(-1, keepdim=True) / mask_f.sum(-1, keepdim=True)
        features = torch.cat(
            [signs.unsqueeze(-1), local_balance[:heads].permute(1, 2, 0), log_density[:heads].permute(1, 2, 0)], dim=-1
        )
        hidden = self.embed(features) * mask_f.unsqueeze(-1)
        head_keys = all_keys[: heads * batch]
        head_landmarks = None if landmarks is None else landmarks[: heads * batch]
        for layer in self.layers:
            hidden = layer(hidden, head_keys, unit_mask, head_landmarks) * mask_f.unsqueeze(-1)
        hidden = self.final_norm(hidden)
        dual = torch.sigmoid(self.dual_head(hidden).squeeze(-1))
        pooled = (hidden * mask_f.unsqueeze(-1)).sum(1) / mask_f.sum(1, keepdim=True)
        beta0 = self.offset_head(pooled).squeeze(-1)
        if not return_objective:
            lam = penalty_lambda(self.config.lambda0, unit_mask, torch.float64)
            scaled = dual.double() * signs.double() * mask_f.double() / lam.unsqueeze(-1)
            weights = weights_from_scaled_values(scaled, signs, unit_mask, lam)
            return CInAOutput(weights=weights, beta0=beta0, effect=self._effect(weights, signs, unit_mask, outcome), dual=dual)

        bal_keys = all_keys[heads * batch :]
        bal = balancing_layer(bal_keys, dual, signs, unit_mask, self.config.lambda0, chunk, lse=lse[heads])
        per_dataset = balancing_objective(
            bal.out, bal.scaled_values, beta0.double(), signs.double(), unit_mask, bal.lam, self.config.hinge_smoothing
        )
        weights = weights_from_scaled_values(bal.scaled_values, signs, unit_mask, bal.lam)
        effect = self._effect(weights, signs, unit_mask, outcome)
        return CInAOutput(
            loss=per_dataset.mean().to(covariates.dtype),
            per_dataset_loss=per_dataset,
            weights=weights,
            values=bal.values,
            beta0=beta0,
            effect=effect,
            log_h_hat=bal.log_h_hat,
            dual=dual,
        )

    @staticmethod
    def _effect(
        weights: torch.Tensor, signs: torch.Tensor, unit_mask: torch.Tensor, outcome: torch.Tensor | None
    ) -> torch.Tensor | None:
        """``sum_i alpha_i W_i Y_i`` per dataset, or None without outcomes."""
        if outcome is None:
            return None
        if outcome.shape != unit_mask.shape:
            raise ValueError(f"outcome must have shape {tuple(unit_mask.shape)}, got {tuple(outcome.shape)}")
        y = torch.where(unit_mask, outcome.double(), torch.zeros_like(outcome, dtype=torch.float64))
        return (weights * signs.double() * y).sum(-1)

    # -- user-facing -----------------------------------------------------------------------------

    @torch.no_grad()
    def balancing_weights(self, covariates: Any, treatment: Any) -> Any:
        """Zero-shot balancing weights (numpy, normalised per arm) for one dataset given as arrays."""
        x = torch.as_tensor(covariates, dtype=torch.float32, device=self.device).unsqueeze(0)
        t = torch.as_tensor(treatment, dtype=torch.float32, device=self.device).unsqueeze(0)
        was_training = self.training
        self.eval()
        try:
            return self(x, t, return_objective=False).weights[0].cpu().numpy()
        finally:
            self.train(was_training)

    def estimate(
        self,
        covariates: Any,
        treatment: Any,
        outcome: Any,
        estimand: str = "ate",
        method: str = "cina-zs",
        **kwargs: Any,
    ) -> EffectEstimate:  # noqa: F821 - hf_causal.core.results; not imported: this file also runs as Hub remote code
        """Estimate a treatment effect with balancing weights from this model.

        Args:
            covariates: ``(N, d)`` numpy array, pandas DataFrame (column names kept, categorical/object
                columns one-hot encoded) or torch tensor. With ``treatment`` and ``outcome`` given as column
                names: a DataFrame (split into its columns, estimated in memory; ``columns=`` the covariates,
                default every other column), or a table read in chunks (parquet path or folder, ``datasets``
                dataset, iterator of DataFrames, or a DataFrame with ``chunk_rows=``), see
                :func:`hf_causal.cina.streaming.estimate_stream`. pandas inputs must share their index (values
                are paired by position; a ``ValueError`` says where they differ).
            treatment: ``(N,)`` binary treatment (0/1 or bool), or the treatment column's name.
            outcome: ``(N,)`` outcome, or the outcome column's name.
            estimand: ``"ate"`` (population average effect), ``"att"`` (on the treated), ``"atc"`` (on the
                controls) or ``"overlap"`` (the raw balancing-SVM target, an overlap-weighted average).
            method: ``"cina-zs"`` (one forward pass of this model) or ``"cina"`` (per-dataset optimisation,
                Algorithm 1; extra keyword arguments go to :func:`hf_causal.cina.per_dataset.fit_per_dataset`;
                with ``"cina-zs"`` an unknown keyword is a ``TypeError``).
            moments: keyword-only; the calibration to ``estimand`` matches weighted means of the standardised
                covariates (``1``) or also of the squares of the non-binary ones (``2``, the default).
            outcome_model: keyword-only; ``"kernel"`` augments the weights with a per-arm kernel ridge outcome
                model (doubly robust), ``"pretrained"`` with this checkpoint's in-context outcome network (the
                kernel model plus 0.75 of the network's correction; doubly robust too; a checkpoint with a
                wide-prior copy uses it when the kernel model's effect exceeds
                ``config.outcome_wide_effect_threshold`` outcome SDs, docs/design.md §4.8; a dataset whose kernel
                surfaces differ in spread beyond ``config.outcome_spread_limit`` keeps the kernel model's, and the
                result's ``outcome_withheld`` says so),
                ``"auto"`` (default) picks ``"pretrained"`` when this checkpoint has an outcome network and the
                data are in memory, ``"kernel"`` otherwise; ``"none"`` returns the weighted difference. Not for
                ``"overlap"`` (``"kernel"`` or ``"pretrained"`` with it is a ``ValueError``). The result's
                ``outcome_model`` says which ran.
            confidence: keyword-only; level of the normal interval (default 0.95).
            cross_moments: keyword-only; with ``moments=2``, also balance the pairwise products of covariates whose
                arm covariances differ most (two per covariate, at most 200). Default ``False``: it helps where
                treatment is assigned through interactions of covariates and costs elsewhere (docs/design.md §4.3).
            residual_trees: keyword-only; with the outcome network, fit shallow boosted trees per arm to its
                residuals on one fold and predict the other, and add an arm's correction to its surface when it
                lowers the held-out squared residuals by more than 3 standard errors (the interval then also gets
                the change it makes; :mod:`hf_causal.cina.residual_trees`). Default ``True``; ``False`` gives the
                network's surfaces alone. The kernel model never gets them.
            text_encoder: keyword-only; a :class:`hf_causal.backbones.TextEncoder`. Text columns of a DataFrame
                ``covariates`` (``text_columns``, default every string column), or ``covariates`` given as a
                sequence of texts, are embedded and reduced to ``text_components`` (default 16) principal
                components each (:func:`hf_causal.cina.estimator.text_covariates`). Missing, empty or non-string
                texts are a ``ValueError`` / ``TypeError`` naming the row, and so is a corpus with fewer than
                ``text_components + 1`` texts.
            text_features: keyword-only; how text columns become covariates. ``"embedding"`` (the default when
                ``text_encoder`` is given): its principal components, as above. ``"scores"`` (no encoder): each
                text column becomes three cross-fitted scores of its words, the treatment's log-odds and the outcome
                in each arm (:mod:`hf_causal.cina.text_scores`, docs/design.md §4.10). Scores
                keep what confounds (a topic, a count of rare words) where leading components lose it.

        Returns:
            :class:`hf_causal.core.results.EffectEstimate` with ``value``, ``ci_low``, ``ci_high``,
            ``weights``, ``ess_treated``, ``ess_control`` and ``balance`` (docs/design.md §4 says how the
            interval is computed); ``supported`` is ``False``, with the reason in ``support_issue``, when the
            overlap diagnostics fail (docs/design.md §4.7).
        """
        try:  # the estimator is library code: a checkpoint loaded as remote code gives the forward pass only
            from hf_causal.cina.estimator import estimate_effect
        except ImportError as err:
            raise ImportError(
                "CInAModel.estimate needs hf-causal installed (pip install hf-causal); without it a checkpoint "
                "loaded with trust_remote_code gives the balancing weights of forward() only"
            ) from err
        return estimate_effect(self, covariates, treatment, outcome, estimand=estimand, method=method, **kwargs)

    def cate(
        self,
        covariates: Any,
        treatment: Any,
        outcome: Any,
        X_new: Any = None,  # noqa: N803 - the name users know from scikit-learn-style APIs
        confidence: float = 0.95,
        outcome_model: str = "pretrained",
        calibrate: bool = True,
        tree_proxy: bool = True,
    ) -> EffectEstimate:  # noqa: F821 - hf_causal.core.results; not imported: this file also runs as Hub remote code
        """Conditional effects ``E[Y(1) - Y(0) | X = x]`` per unit, with intervals (docs/design.md §4.8).

        Args:
            covariates, treatment, outcome: the dataset (as for :meth:`estimate`: arrays, or a DataFrame with
                ``treatment`` and ``outcome`` its column names), the context of the in-context outcome network.
            X_new: rows to predict effects for; default: the dataset's own rows. A DataFrame (or one row as a
                Series) with the context's columns is encoded with the context's category levels (a level no
                context row has is a ``ValueError``); an array is read by position (a 1-D one is one row).
                Rows more than one SD beyond the context's range in some covariate get the context edge's effects
                with an ``ExtrapolationWarning`` (:mod:`hf_causal.cina.cate`).
            confidence: level of the per-unit intervals.
            outcome_model: ``"pretrained"`` (the checkpoint's outcome network; the kernel model when the
                checkpoint has none, or where ``config.outcome_spread_limit`` withholds it: the result's
                ``outcome_model`` and ``outcome_withheld`` say so) or ``"kernel"`` (the kernel ridge T-learner).
            calibrate: report the doubly robust ATE plus the outcome model's deviations from its average,
                scaled by the slope of doubly robust pseudo-outcomes on cross-fitted predictions, clipped to
                ``[0, 1]`` (:mod:`hf_causal.cina.cate`): heterogeneity the data cannot confirm is shrunk away.
                ``False``: the outcome model's ``mu1 - mu0`` as it comes.
            tree_proxy: with ``calibrate``, also regress the pseudo-outcomes on a second proxy, the effects of
                shallow boosted trees per arm fitted on the same folds, and add their deviations at their slope
                when it is positive beyond 3 robust standard errors (:mod:`hf_causal.cina.tree_proxy`): steps and
                interactions in a few of many covariates, which the smooth outcome models miss. ``False``: the
                outcome model's proxy alone.

        Returns:
            :class:`hf_causal.core.results.EffectEstimate` with ``estimand="cate"``, ``value`` the mean effect
            (calibrated, on the dataset's own rows: the doubly robust ATE with its interval) and ``effects`` a
            DataFrame (``cate``, ``std_error``, ``ci_low``, ``ci_high``, and the outcome model's uncalibrated
            ``mu0``, ``mu1``) per row, whose ``attrs["heterogeneity_slope"]`` is the outcome model's slope kept
            and ``attrs["tree_slope"]`` the trees' (0 when not kept; both ``None`` uncalibrated); ``plot_effects(X["age"])`` draws them against a covariate.
        """
        try:  # library code, as for estimate()
            from hf_causal.cina.cate import estimate_cate
        except ImportError as err:
            raise ImportError("CInAModel.cate needs hf-causal installed (pip install hf-causal)") from err
        return estimate_cate(self, covariates, treatment, outcome, X_new, confidence, outcome_model, calibrate,
                             tree_proxy)


# ``save_pretrained``/``push_to_hub`` copy this file and its relative imports next to the weights and write
# ``auto_map`` into config.json, so ``AutoModel.from_pretrained(repo, trust_remote_code=True)`` works without
# hf_causal installed. In-library users get the classes through the Auto registries, which the ``cina`` package
# fills (hf_causal.hub.registry) when imported; a remote copy of this file registers nothing.
CInAConfig.register_for_auto_class()
CInAModel.register_for_auto_class("AutoModel")
