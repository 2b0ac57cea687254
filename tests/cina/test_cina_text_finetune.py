"""LoRA-tuning a text encoder through CInA's self-supervised loss (a tiny BERT from a config, never MiniLM)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("peft")

from hf_causal.backbones import TextEncoder  # noqa: E402
from hf_causal.cina import CInAModel  # noqa: E402
from hf_causal.cina.text_finetune import finetune_text_encoder  # noqa: E402


def test_lora_finetune_through_cina_loss(tiny_bert_dir: str, tmp_path: object) -> None:
    enc = TextEncoder.from_pretrained(tiny_bert_dir, lora={"r": 2})
    rng = np.random.default_rng(0)
    c = rng.integers(0, 2, 60)
    texts = [f"the movie was {'great' if ci else 'awful'}" for ci in c]
    t = (rng.random(60) < np.where(c == 1, 0.6, 0.2)).astype(int)
    before = {n: p.detach().clone() for n, p in enc.named_parameters() if p.requires_grad}
    proj, losses = finetune_text_encoder(
        enc, CInAModel.from_pretrained("cina-zs-base"), texts, t, n_components=4, steps=2, units_per_step=40,
        lr=1e-2, progress=False,
    )
    assert len(losses) == 2 and all(np.isfinite(losses))
    assert proj.components.shape == (4, 32)
    assert any(not torch.equal(before[n], p) for n, p in enc.named_parameters() if p.requires_grad)
    enc.model.save_pretrained(str(tmp_path))  # adapter_model.safetensors + adapter_config.json
    with pytest.raises(ValueError, match="both arms"):
        finetune_text_encoder(enc, None, texts, np.zeros(60), progress=False)
