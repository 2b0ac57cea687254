"""The chunked attention must equal dense softmax attention and its log-normaliser, values and gradients."""

import pytest
import torch

from hf_causal.cina.attention import chunked_attention


def _dense(q, k, v, mask, scale):
    s = (q @ k.transpose(-1, -2)) * scale
    s = s.masked_fill(~mask[:, None, :], float("-inf"))
    return torch.softmax(s, -1) @ v, torch.logsumexp(s, -1)


@pytest.mark.parametrize("chunk_elements", [1, 7, 50, 10**6])
def test_matches_dense_attention(chunk_elements):
    torch.manual_seed(0)
    q = torch.randn(2, 9, 4, dtype=torch.float64)
    k = torch.randn(2, 11, 4, dtype=torch.float64)
    v = torch.randn(2, 11, 3, dtype=torch.float64)
    mask = torch.ones(2, 11, dtype=torch.bool)
    mask[0, 8:] = False
    out, lse = chunked_attention(q, k, v, mask, scale=0.6, chunk_elements=chunk_elements)
    ref_out, ref_lse = _dense(q, k, v, mask, 0.6)
    torch.testing.assert_close(out, ref_out)
    torch.testing.assert_close(lse, ref_lse)


def test_gradients_match_autograd_of_dense():
    torch.manual_seed(1)
    q = torch.randn(2, 8, 3, dtype=torch.float64, requires_grad=True)
    v = torch.randn(2, 8, 2, dtype=torch.float64, requires_grad=True)
    mask = torch.ones(2, 8, dtype=torch.bool)
    mask[1, 5:] = False

    def f(q, v):
        out, lse = chunked_attention(q, q, v, mask, scale=0.7, chunk_elements=12)
        return (out * torch.linspace(-1, 1, 16, dtype=torch.float64).view(1, 8, 2)).sum() + (lse**2).sum()

    assert torch.autograd.gradcheck(f, (q, v))


def test_masked_keys_get_no_weight():
    torch.manual_seed(2)
    q = torch.randn(1, 5, 2)
    v = torch.randn(1, 5, 1)
    mask = torch.tensor([[True, True, True, False, False]])
    out_a, _ = chunked_attention(q, q, v, mask)
    v2 = v.clone()
    v2[0, 3:] = 1e6  # garbage in padded slots must not leak
    q2 = q.clone()
    q2[0, 3:] = 50.0
    out_b, _ = chunked_attention(q2, q2, v2, mask)
    torch.testing.assert_close(out_a[0, :3], out_b[0, :3])


def test_rejects_fully_masked_dataset():
    q = torch.randn(1, 3, 2)
    with pytest.raises(ValueError, match="at least one unmasked"):
        chunked_attention(q, q, q, torch.zeros(1, 3, dtype=torch.bool))


@pytest.mark.parametrize("key_block", [1, 3, 4, 10])
@pytest.mark.parametrize("chunk_elements", [1, 7, 10**6])
def test_key_tiled_forward_matches_dense(monkeypatch, key_block, chunk_elements):
    """The CPU forward tiles keys with an online softmax once there are more than CPU_KEY_BLOCK of them; blocks
    that are all padding (the last 4 keys of dataset 0) and a leading padded block (dataset 1) included."""
    import hf_causal.cina.attention as attention

    monkeypatch.setattr(attention, "CPU_KEY_BLOCK", key_block)
    torch.manual_seed(3)
    q = torch.randn(2, 9, 4, dtype=torch.float64) * 3
    k = torch.randn(2, 12, 4, dtype=torch.float64) * 3
    v = torch.randn(2, 12, 3, dtype=torch.float64)
    mask = torch.ones(2, 12, dtype=torch.bool)
    mask[0, 8:] = False
    mask[1, :4] = False
    out, lse = chunked_attention(q, k, v, mask, scale=0.6, chunk_elements=chunk_elements)
    ref_out, ref_lse = _dense(q, k, v, mask, 0.6)
    torch.testing.assert_close(out, ref_out)
    torch.testing.assert_close(lse, ref_lse)
    # no padding: the bias-free path
    out, lse = chunked_attention(q, k, v, None, scale=0.6, chunk_elements=chunk_elements)
    ref_out, ref_lse = _dense(q, k, v, torch.ones_like(mask), 0.6)
    torch.testing.assert_close(out, ref_out)
    torch.testing.assert_close(lse, ref_lse)


def test_key_tiled_forward_keeps_gradients(monkeypatch):
    import hf_causal.cina.attention as attention

    monkeypatch.setattr(attention, "CPU_KEY_BLOCK", 3)
    torch.manual_seed(4)
    q = torch.randn(1, 8, 3, dtype=torch.float64, requires_grad=True)
    v = torch.randn(1, 8, 2, dtype=torch.float64, requires_grad=True)

    def f(q, v):
        out, lse = chunked_attention(q, q, v, None, scale=0.7, chunk_elements=12)
        return out.sum() + (lse**2).sum()

    assert torch.autograd.gradcheck(f, (q, v))
