"""The sampler-efficiency script's arithmetic against a hand count, and its report's derived numbers."""

from __future__ import annotations

import pytest
from support import load_script


@pytest.fixture(scope="module")
def script():
    return load_script("benchmarks/engine_sampler_efficiency.py")


def test_block_flops_are_the_projections_and_the_mlp(script) -> None:
    # width 64, MLP 128, one layer: qkv 64x192 + out 64x64 + up 64x128 + down 128x64 multiply-adds, x2
    assert script.block_flops_per_position(64, 1, 128) == 2 * (64 * 192 + 64 * 64 + 64 * 128 + 128 * 64)
    assert script.block_flops_per_position(64, 3, 128) == 3 * script.block_flops_per_position(64, 1, 128)
    with pytest.raises(ValueError, match="positive"):
        script.block_flops_per_position(0, 1, 128)


def test_matmul_rate_is_positive_and_finite(script) -> None:
    rate = script.matmul_rate(256, 16, 32, seconds=0.05)
    assert 1e6 < rate < 1e13


def test_report_derives_the_share_and_the_ceiling(script) -> None:
    numbers = {"width": 64, "layers": 1, "inner": 128, "positions": 21, "batch": 4096, "per_position": 65_536,
               "rows_per_s": [8_000.0, 10_000.0], "achieved": 10_000 * 21 * 65_536, "bare": 4 * 10_000 * 21 * 65_536}
    text = script.report(numbers, "python x")
    assert "| sampler's share of the bare rate | 25% |" in text
    assert "| rows/s a sampler with no overhead would reach | 40,000 |" in text
    assert "8,000, 10,000" in text and "most 4.0×" in text and "DoWhy" not in text
    assert "still 20× below DoWhy gcm's 800,000 do() rows/s" in script.report(numbers, "python x", 800_000.0)
