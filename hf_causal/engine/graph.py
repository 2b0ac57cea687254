"""``CausalGraph``: typed variables and the directed acyclic graph that links them."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

VARIABLE_TYPES = ("binary", "categorical", "continuous", "integer", "sequence", "text")
_TYPE_ALIASES = {"token_sequence": "sequence", "seq": "sequence", "int": "integer", "float": "continuous"}


@dataclass(frozen=True)
class Variable:
    """One node of a :class:`CausalGraph`.

    Args:
        name: column name in the data.
        type: one of ``binary``, ``categorical``, ``continuous``, ``integer``, ``sequence`` (a token
            sequence of variable length, given as a list/tuple of elements) or ``text`` (a string,
            tokenised into words unless a backbone tokenizer is used).
        options: codec options for this variable (e.g. ``{"n_bins": 32}``, ``{"max_length": 40}``).
    """

    name: str
    type: str
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def is_sequence(self) -> bool:
        """Whether the variable takes a variable number of tokens."""
        return self.type in ("sequence", "text")


def _parse_variable(name: Any, spec: Any) -> Variable:
    if not isinstance(name, str) or not name:
        raise TypeError(f"variable names must be non-empty strings, got {name!r}")
    if any(ch.isspace() for ch in name) or "<" in name or ">" in name:
        raise ValueError(f"variable name {name!r} must not contain whitespace or angle brackets")
    if isinstance(spec, Variable):
        return Variable(name, spec.type, dict(spec.options))
    options: dict[str, Any] = {}
    if isinstance(spec, Mapping):
        spec = dict(spec)
        if "type" not in spec:
            raise ValueError(f"variable {name!r}: a dict specification needs a 'type' key")
        vtype = spec.pop("type")
        options = spec
    else:
        vtype = spec
    if not isinstance(vtype, str):
        raise TypeError(f"variable {name!r}: type must be a string, got {type(vtype).__name__}")
    vtype = _TYPE_ALIASES.get(vtype.lower(), vtype.lower())
    if vtype not in VARIABLE_TYPES:
        raise ValueError(f"variable {name!r}: unknown type {vtype!r}; expected one of {VARIABLE_TYPES}")
    return Variable(name, vtype, options)


class CausalGraph:
    """A directed acyclic graph over typed variables.

    Args:
        variables: mapping ``name -> type`` (a string from :data:`VARIABLE_TYPES`) or
            ``name -> {"type": ..., **codec_options}``. Insertion order breaks ties in the
            topological order.
        edges: ``(cause, effect)`` pairs.

    Raises:
        ValueError: on unknown variable names in edges, self-loops, duplicate edges or cycles.
        TypeError: on malformed arguments.

    Example:
        >>> g = CausalGraph({"Z": "categorical", "A": "binary", "Y": "continuous"},
        ...                 [("Z", "A"), ("Z", "Y"), ("A", "Y")])
        >>> g.topological_order
        ['Z', 'A', 'Y']
    """

    def __init__(self, variables: Mapping[str, Any], edges: Iterable[tuple[str, str]] = ()) -> None:
        if not isinstance(variables, Mapping) or not variables:
            raise TypeError("variables must be a non-empty mapping name -> type")
        self.variables: dict[str, Variable] = {n: _parse_variable(n, s) for n, s in variables.items()}
        self.edges: list[tuple[str, str]] = []
        seen: set[tuple[str, str]] = set()
        for edge in edges:
            if not isinstance(edge, (tuple, list)) or len(edge) != 2:
                raise TypeError(f"each edge must be a (cause, effect) pair, got {edge!r}")
            u, v = edge
            for node in (u, v):
                if node not in self.variables:
                    raise ValueError(f"edge {edge!r} names unknown variable {node!r}")
            if u == v:
                raise ValueError(f"self-loop on variable {u!r} is not allowed")
            if (u, v) in seen:
                raise ValueError(f"duplicate edge {u!r} -> {v!r}")
            seen.add((u, v))
            self.edges.append((u, v))
        self._parents = {n: [u for u, v in self.edges if v == n] for n in self.variables}
        self._children = {n: [v for u, v in self.edges if u == n] for n in self.variables}
        self.topological_order = self._toposort()

    # ----------------------------------------------------------------------------------- structure
    def _toposort(self) -> list[str]:
        indegree = {n: len(p) for n, p in self._parents.items()}
        ready = [n for n in self.variables if indegree[n] == 0]
        order: list[str] = []
        rank = {n: i for i, n in enumerate(self.variables)}
        while ready:
            ready.sort(key=rank.__getitem__)
            node = ready.pop(0)
            order.append(node)
            for child in self._children[node]:
                indegree[child] -= 1
                if indegree[child] == 0:
                    ready.append(child)
        if len(order) != len(self.variables):
            cyclic = sorted(n for n in self.variables if n not in order)
            raise ValueError(f"the graph has a cycle through the variables {cyclic}")
        return order

    def _check(self, name: str) -> None:
        if name not in self.variables:
            raise ValueError(f"unknown variable {name!r}; known: {list(self.variables)}")

    def parents(self, name: str) -> list[str]:
        """Direct causes of ``name``."""
        self._check(name)
        return list(self._parents[name])

    def children(self, name: str) -> list[str]:
        """Direct effects of ``name``."""
        self._check(name)
        return list(self._children[name])

    def ancestors(self, names: str | Iterable[str], intervened: Iterable[str] = ()) -> set[str]:
        """Strict ancestors of ``names`` (excluding the names themselves unless reachable).

        Args:
            names: one variable or several.
            intervened: variables under ``do()``; their incoming edges are cut (the mutilated graph).
        """
        targets = [names] if isinstance(names, str) else list(names)
        cut = set(intervened)
        for n in [*targets, *cut]:
            self._check(n)
        found: set[str] = set()
        stack = [p for t in targets if t not in cut for p in self._parents[t]]
        while stack:
            node = stack.pop()
            if node in found:
                continue
            found.add(node)
            if node not in cut:
                stack.extend(self._parents[node])
        return found

    def descendants(self, name: str) -> set[str]:
        """Strict descendants of ``name``."""
        self._check(name)
        found: set[str] = set()
        stack = list(self._children[name])
        while stack:
            node = stack.pop()
            if node not in found:
                found.add(node)
                stack.extend(self._children[node])
        return found

    def do(self, intervened: Iterable[str]) -> CausalGraph:
        """The mutilated graph: incoming edges of the intervened variables removed."""
        cut = set(intervened)
        for n in cut:
            self._check(n)
        return CausalGraph(
            {n: {"type": v.type, **v.options} for n, v in self.variables.items()},
            [(u, v) for u, v in self.edges if v not in cut],
        )

    def __getitem__(self, name: str) -> Variable:
        self._check(name)
        return self.variables[name]

    def __contains__(self, name: object) -> bool:
        return name in self.variables

    def __len__(self) -> int:
        return len(self.variables)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CausalGraph) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        types = ", ".join(f"{n}: {v.type}" for n, v in self.variables.items())
        edges = ", ".join(f"{u}->{v}" for u, v in self.edges)
        return f"CausalGraph({{{types}}}, [{edges}])"

    # ----------------------------------------------------------------------------- serialisation
    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable description. Variables are a list, so their order (which breaks ties
        in the topological order) survives serialisers that sort mapping keys."""
        return {
            "variables": [{"name": n, "type": v.type, **v.options} for n, v in self.variables.items()],
            "edges": [list(e) for e in self.edges],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CausalGraph:
        """Inverse of :meth:`to_dict` (``variables`` may also be a ``name -> spec`` mapping)."""
        if not isinstance(data, Mapping) or "variables" not in data:
            raise TypeError("expected a mapping with 'variables' and 'edges'")
        variables = data["variables"]
        if isinstance(variables, list):
            specs = {}
            for item in variables:
                if not isinstance(item, Mapping) or "name" not in item:
                    raise TypeError(f"each variable entry needs a 'name': {item!r}")
                specs[item["name"]] = {k: v for k, v in item.items() if k != "name"}
            variables = specs
        return cls(variables, [tuple(e) for e in data.get("edges", [])])

    def to_json(self, path: str | os.PathLike | None = None) -> str:
        """Serialise to a JSON string, also written to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=2)
        if path is not None:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
        return text

    @classmethod
    def from_json(cls, text_or_path: str | os.PathLike) -> CausalGraph:
        """Load from a JSON string or a path to a JSON file."""
        text = str(text_or_path)
        if not text.lstrip().startswith("{"):
            with open(text_or_path, encoding="utf-8") as f:
                text = f.read()
        return cls.from_dict(json.loads(text))
