"""The linear-head fast paths compute what the full-vocabulary paths compute.

Training's grouped loss (``grouped_cross_entropy``: each label's logits over its own variable's value tokens
only) must equal the masked full-vocabulary loss, gradients included; the sampler's restricted logits (computed
from the last hidden state for the allowed ids only) must give the same draws as the full logits.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from hf_causal.engine.configuration_causal_ar import CausalARConfig
from hf_causal.engine.graph import CausalGraph
from hf_causal.engine.modeling_causal_ar import CausalARModel, grouped_cross_entropy, restrict_to_groups
from hf_causal.engine.planning import VariablePlan
from hf_causal.engine.sampling import sample_arms, sample_tokens
from hf_causal.engine.tokenization_causal import CausalSequenceTokenizer
from hf_causal.engine.training import compact_batch


def _masked_loss(hidden, target, weight, bias, groups):
    logits = torch.nn.functional.linear(hidden, weight, bias)
    return torch.nn.functional.cross_entropy(restrict_to_groups(logits, target, groups), target, ignore_index=-100)


@pytest.mark.parametrize("with_bias", [False, True])
def test_grouped_cross_entropy_equals_the_masked_full_vocabulary_loss(with_bias):
    """Groups of different sizes, not contiguous, ignored labels and labels outside every group (full softmax)."""
    torch.manual_seed(0)
    vocab, width, rows = 50, 8, 400
    groups = torch.full((vocab,), -1)
    groups[5:9], groups[9:30], groups[[30, 35, 40]], groups[41:45] = 0, 2, 1, 3
    target = torch.randint(0, vocab, (rows,))
    target[::7] = -100
    hidden = torch.randn(rows, width, requires_grad=True)
    weight = torch.randn(vocab, width, requires_grad=True)
    bias = torch.randn(vocab, requires_grad=True) if with_bias else None
    params = [hidden, weight] + ([bias] if with_bias else [])
    fast = grouped_cross_entropy(hidden, target, weight, bias, groups)
    slow = _masked_loss(hidden, target, weight, bias, groups)
    assert float(fast.detach()) == pytest.approx(float(slow.detach()), rel=1e-5)
    for a, b in zip(torch.autograd.grad(fast, params), torch.autograd.grad(slow, params)):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_grouped_cross_entropy_with_every_label_ignored_is_nan_like_cross_entropy():
    hidden, weight = torch.randn(3, 4), torch.randn(6, 4)
    target = torch.full((3,), -100)
    assert torch.isnan(grouped_cross_entropy(hidden, target, weight, None, torch.zeros(6, dtype=torch.long)))


@pytest.fixture(scope="module")
def table():
    rng = np.random.default_rng(0)
    n = 200
    z = rng.integers(0, 3, n)
    a = (rng.random(n) < 0.3 + 0.2 * z).astype(int)
    seqs = [list(rng.choice(["N", "S"], rng.integers(0, 4))) for _ in range(n)]
    df = pd.DataFrame({"Z": z, "A": a, "S": seqs, "Y": a + z + rng.normal(size=n)})
    graph = CausalGraph({"Z": "categorical", "A": "binary", "S": "sequence", "Y": "continuous"},
                        [("Z", "A"), ("A", "S"), ("S", "Y"), ("Z", "Y"), ("A", "Y")])
    tok = CausalSequenceTokenizer.from_data(df, graph, n_bins=8)
    torch.manual_seed(0)
    cfg = CausalARConfig(
        backbone_config={"model_type": "gpt2", "n_embd": 32, "n_layer": 2, "n_head": 2, "n_inner": 64,
                         "tie_word_embeddings": False, "resid_pdrop": 0.0, "embd_pdrop": 0.0, "attn_pdrop": 0.0},
        vocab_size=len(tok), max_positions=tok.max_sequence_length(),
    )
    model = CausalARModel(cfg)  # no dropout: the two paths must see the same network
    with torch.no_grad():  # a non-zero output bias, so that the restricted head must carry it too
        model.backbone.lm_head.bias = torch.nn.Parameter(torch.randn(len(tok)) * 0.3)
    return df, tok, model


def _slow(model, monkeypatch):
    monkeypatch.setattr(type(model), "has_linear_head", lambda self: False)


def test_models_loss_with_groups_equals_the_full_logits_path(table, monkeypatch):
    """Ragged rows (a sequence variable), compacted as in training, with ``logits_to_keep``."""
    df, tok, model = table
    assert model.has_linear_head()
    batch = compact_batch(tok.build_inputs(df.iloc[:64]))
    groups = torch.as_tensor(tok.loss_groups(), dtype=torch.long)
    fast = model(**batch, loss_groups=groups)
    fast_grads = torch.autograd.grad(fast.loss, list(model.parameters()), allow_unused=True)
    _slow(model, monkeypatch)
    slow = model(**batch, loss_groups=groups)
    slow_grads = torch.autograd.grad(slow.loss, list(model.parameters()), allow_unused=True)
    assert fast.logits is None and slow.logits is not None
    assert float(fast.loss.detach()) == pytest.approx(float(slow.loss.detach()), rel=1e-5)
    for a, b in zip(fast_grads, slow_grads):
        if a is None or b is None:
            assert (a is None or not a.any()) and (b is None or not b.any())
        else:
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_restricted_sampler_draws_what_the_full_logits_sampler_draws(table, monkeypatch):
    """Same seed, same Gumbel noise: the draws agree row for row, under do() and with ragged sequences."""
    _, tok, model = table
    plans = [VariablePlan("Z"), VariablePlan("A", clamp=[list(tok.encode_value("A", 1))]), VariablePlan("S"),
             VariablePlan("Y")]
    fast = sample_tokens(model, tok, plans, 300, batch_size=128, seed=5)
    _slow(model, monkeypatch)
    slow = sample_tokens(model, tok, plans, 300, batch_size=128, seed=5)
    for name in ("Z", "A", "Y"):
        np.testing.assert_array_equal(fast[name], slow[name])
    assert fast["S"] == slow["S"]


def test_paired_arms_equal_a_replay_of_the_shared_draws(table):
    """``sample_arms`` forks the KV cache after the shared variables; each arm's draws equal ``sample_tokens`` for
    that arm with the shared variables clamped to the first arm's draws (its own generator, the same seed)."""
    _, tok, model = table
    arms = [[VariablePlan("Z"), VariablePlan("A", clamp=[list(tok.encode_value("A", a))]), VariablePlan("S"),
             VariablePlan("Y")] for a in (1, 0)]
    treated, control = sample_arms(model, tok, arms, 1, 300, batch_size=128, seeds=[5, 6])
    first = sample_tokens(model, tok, arms[0], 300, batch_size=128, seed=5)
    replay = [VariablePlan("Z", clamp=first["Z"]), *arms[1][1:]]
    second = sample_tokens(model, tok, replay, 300, batch_size=128, seed=6)
    for name in ("Z", "A", "Y"):
        np.testing.assert_array_equal(treated[name], first[name])
        np.testing.assert_array_equal(control[name], second[name])
    assert treated["S"] == first["S"] and control["S"] == second["S"]
    assert not np.array_equal(treated["Y"], control["Y"])  # the arms differ after the shared prefix


def test_paired_arms_need_the_same_shared_plans(table):
    _, tok, model = table
    with pytest.raises(ValueError, match="share"):
        sample_arms(model, tok, [[VariablePlan("Z")], [VariablePlan("A")]], 1, 10, seeds=[0, 1])
    with pytest.raises(ValueError, match="one seed per arm"):
        sample_arms(model, tok, [[VariablePlan("Z")]], 1, 10, seeds=[0, 1])
