"""CausalGraph: validation, order, ancestors, mutilation, JSON round-trip."""

import pytest

from hf_causal.engine.graph import CausalGraph


def _chain() -> CausalGraph:
    return CausalGraph(
        {"W": "continuous", "Z": "categorical", "A": "binary", "M": "integer", "Y": "continuous"},
        [("W", "Z"), ("Z", "A"), ("W", "Y"), ("A", "M"), ("M", "Y"), ("Z", "Y")],
    )


def test_topological_order_respects_edges_and_insertion_order():
    g = _chain()
    order = g.topological_order
    assert sorted(order) == sorted(g.variables)
    for u, v in g.edges:
        assert order.index(u) < order.index(v)
    # unconnected variables keep insertion order
    assert CausalGraph({"b": "binary", "a": "binary"}).topological_order == ["b", "a"]


def test_ancestors_parents_and_mutilated_graph():
    g = _chain()
    assert g.parents("Y") == ["W", "M", "Z"]
    assert g.ancestors("Y") == {"W", "Z", "A", "M"}
    assert g.ancestors("Y", intervened=["A"]) == {"W", "Z", "A", "M"}
    assert g.ancestors("M", intervened=["A"]) == {"A"}
    assert g.descendants("A") == {"M", "Y"}
    mut = g.do(["A"])
    assert mut.parents("A") == [] and ("Z", "A") not in mut.edges


@pytest.mark.parametrize(
    ("variables", "edges", "message"),
    [
        ({"A": "binary", "B": "binary"}, [("A", "B"), ("B", "A")], "cycle"),
        ({"A": "binary", "B": "binary", "C": "binary"}, [("A", "B"), ("B", "C"), ("C", "A")], "cycle"),
        ({"A": "binary"}, [("A", "A")], "self-loop"),
        ({"A": "binary"}, [("A", "B")], "unknown variable"),
        ({"A": "binary", "B": "binary"}, [("A", "B"), ("A", "B")], "duplicate"),
        ({"A": "quaternion"}, [], "unknown type"),
        ({"A B": "binary"}, [], "whitespace"),
        ({"A": {"n_bins": 3}}, [], "'type'"),
    ],
)
def test_invalid_graphs_raise_value_error(variables, edges, message):
    with pytest.raises(ValueError, match=message):
        CausalGraph(variables, edges)


def test_type_errors():
    with pytest.raises(TypeError):
        CausalGraph({}, [])
    with pytest.raises(TypeError):
        CausalGraph({"A": 3}, [])
    with pytest.raises(TypeError):
        CausalGraph({"A": "binary", "B": "binary"}, [("A", "B", "C")])
    with pytest.raises(ValueError, match="unknown variable"):
        _chain().ancestors("Q")


def test_json_round_trip(tmp_path):
    g = CausalGraph(
        {"Z": {"type": "continuous", "n_bins": 16}, "S": {"type": "sequence", "max_length": 9}, "Y": "binary"},
        [("Z", "S"), ("S", "Y")],
    )
    assert CausalGraph.from_json(g.to_json()) == g
    path = tmp_path / "graph.json"
    g.to_json(path)
    back = CausalGraph.from_json(path)
    assert back == g and back["Z"].options == {"n_bins": 16} and back["S"].is_sequence
    assert back.topological_order == g.topological_order


def test_order_survives_key_sorting_serialisers():
    import json

    g = CausalGraph({"Z": "binary", "A": "binary", "Y": "binary", "B": "binary"}, [("Z", "Y"), ("Z", "B")])
    back = CausalGraph.from_dict(json.loads(json.dumps(g.to_dict(), sort_keys=True)))
    assert back.topological_order == g.topological_order == ["Z", "A", "Y", "B"]
