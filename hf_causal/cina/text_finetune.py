"""LoRA-tune a text encoder through CInA's self-supervised balancing loss (no outcomes needed).

The frozen CInA model scores how well treatment can be separated from the covariates (its loss is the
penalised hinge loss of the balancing SVM, docs/design.md §2); gradients flow through the covariates
into the LoRA adapters of the text encoder, so the encoder learns the treatment-relevant (confounding)
directions of the text — the role CausalBERT's propensity head plays. Covariates are the text embeddings
projected on a fixed PCA basis fitted once on the frozen embeddings (the same basis
:func:`~hf_causal.backbones.embed_text_columns` would use), so the covariate dimension stays what CInA expects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..backbones.text_encoder import TextEncoder, validate_texts

__all__ = ["PCAProjection", "cina_text_loss", "finetune_text_encoder"]


@dataclass
class PCAProjection:
    """A fixed linear map ``x -> ((x - mean) @ components.T) / scale`` (PCA basis of frozen embeddings)."""

    mean: torch.Tensor
    components: torch.Tensor
    scale: torch.Tensor

    @classmethod
    def fit(cls, embeddings: np.ndarray, n_components: int = 16) -> PCAProjection:
        """PCA (via SVD) of ``embeddings`` keeping ``n_components``, components scaled to unit variance."""
        x = np.asarray(embeddings, dtype=np.float64)
        k = min(n_components, x.shape[0], x.shape[1])
        mean = x.mean(0)
        _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
        comp = vt[:k]
        scale = np.clip(((x - mean) @ comp.T).std(0), 1e-12, None)
        as_t = lambda a: torch.tensor(a, dtype=torch.float32)  # noqa: E731
        return cls(as_t(mean), as_t(comp), as_t(scale))

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        dev = z.device
        return ((z - self.mean.to(dev)) @ self.components.to(dev).T) / self.scale.to(dev)


def cina_text_loss(
    encoder: TextEncoder, cina: Any, texts: Sequence[str], treatment: Any, projection: PCAProjection
) -> torch.Tensor:
    """CInA's self-supervised loss on one dataset whose covariates are projected text embeddings."""
    t = torch.as_tensor(np.asarray(treatment), dtype=torch.float32, device=encoder.device)
    if t.shape != (len(texts),):
        raise ValueError(f"treatment must have shape ({len(texts)},), got {tuple(t.shape)}")
    x = projection(encoder(texts))
    return cina(covariates=x.unsqueeze(0), treatment=t.unsqueeze(0)).loss


def finetune_text_encoder(
    encoder: TextEncoder,
    cina: Any,
    texts: Sequence[str],
    treatment: Any,
    n_components: int = 16,
    steps: int = 50,
    units_per_step: int = 256,
    lr: float = 1e-4,
    seed: int = 0,
    progress: bool = True,
) -> tuple[PCAProjection, list[float]]:
    """Train the encoder's trainable parameters (its LoRA adapters) to minimise CInA's loss.

    Each step draws ``units_per_step`` units (stratified by nothing; at least one per arm is enforced) as
    one "dataset". CInA's own weights are frozen. Returns the fixed projection and the loss per step.
    """
    items = validate_texts(texts)
    t_all = np.asarray(treatment).astype(int)
    if t_all.shape != (len(items),):
        raise ValueError(f"treatment must have shape ({len(items)},), got {t_all.shape}")
    if t_all.min() == t_all.max():
        raise ValueError("treatment must contain both arms")
    params = [p for p in encoder.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the encoder has no trainable parameters: add LoRA adapters first (lora=...)")
    for p in cina.parameters():
        p.requires_grad_(False)
    cina.eval()
    projection = PCAProjection.fit(encoder.encode(items, progress=False), n_components)
    opt = torch.optim.AdamW(params, lr=lr)
    rng = np.random.default_rng(seed)
    treated, control = np.flatnonzero(t_all == 1), np.flatnonzero(t_all == 0)
    losses: list[float] = []
    iterator: Any = range(steps)
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(iterator, desc="lora", unit="step")
    encoder.train()
    for _ in iterator:
        m = min(units_per_step, len(items))
        idx = rng.choice(len(items), size=m, replace=False)
        idx[:2] = [rng.choice(treated), rng.choice(control)]
        idx = np.unique(idx)
        loss = cina_text_loss(encoder, cina, [items[i] for i in idx], t_all[idx], projection)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    encoder.eval()
    return projection, losses
