"""Model cards: eval results from dicts and rows, as the Hub's ``model-index`` wants them."""

from __future__ import annotations

import pytest

from hf_causal.hub import eval_results_from_dict


def test_eval_results_shapes() -> None:
    rows = eval_results_from_dict([{"dataset": "d", "metric": "m", "value": 1, "split": "test", "config": "c"}])
    assert (rows[0].dataset_split, rows[0].dataset_config, rows[0].metric_value) == ("test", "c", 1.0)
    assert eval_results_from_dict({"results": {"d": {"m": 2.5}}})[0].metric_value == 2.5
    with pytest.raises(ValueError, match="'dataset', 'metric' and 'value'"):
        eval_results_from_dict([{"dataset": "d"}])
    with pytest.raises(ValueError, match="must map metric names"):
        eval_results_from_dict({"d": 3.0})
