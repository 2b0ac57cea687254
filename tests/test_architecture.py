"""The layout of docs/design.md §1 holds: measured on the package's real import graph (every import, function
level and ``try`` blocks included), its module sizes and its citations of the design document."""

from __future__ import annotations

import re

import grimp
import pytest
from support import REPO_ROOT

PACKAGE = REPO_ROOT / "hf_causal"
WINGS = ("cina", "engine", "discovery")
FLOOR = ("data", "backbones", "hub", "core")
ENTRY_POINTS = ("cli", "pipelines")
MAX_LINES = 550


@pytest.fixture(scope="module")
def imports() -> dict[str, set[str]]:
    """``{module: modules it imports}`` inside hf_causal."""
    graph = grimp.build_graph("hf_causal")
    return {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}


def part(module: str) -> str:
    """The first-level part a module belongs to (``hf_causal.cina.estimator`` -> ``cina``)."""
    pieces = module.split(".")
    return pieces[1] if len(pieces) > 1 else ""


def crossings(imports: dict[str, set[str]], sources: tuple[str, ...], targets: tuple[str, ...]) -> list[str]:
    return sorted(
        f"{m} -> {t}"
        for m, deps in imports.items()
        for t in deps
        if part(m) in sources and part(t) in targets and part(t) != part(m)
    )


def test_the_wings_never_import_each_other(imports):
    assert crossings(imports, WINGS, WINGS) == []


def test_the_floor_imports_no_wing_and_nothing_imports_the_entry_points(imports):
    assert crossings(imports, FLOOR, WINGS + ENTRY_POINTS) == []
    assert crossings(imports, WINGS, ENTRY_POINTS) == []


def test_data_imports_no_model_code(imports):
    assert crossings(imports, ("data",), ("backbones", "core")) == []


def test_no_import_cycles(imports):
    """Tarjan's strongly connected components of the module graph: every one is a single module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in imports.get(v, ()):
            if w.startswith(v + "."):  # a package importing its own children is not a cycle
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(imports):
        if module not in index:
            visit(module)
    assert cycles == []


def test_no_module_is_over_the_size_limit():
    sizes = {str(p.relative_to(REPO_ROOT)): len(p.read_text().splitlines()) for p in PACKAGE.rglob("*.py")}
    assert {p: n for p, n in sizes.items() if n > MAX_LINES} == {}


def test_code_cites_the_design_document_and_not_its_history():
    stale = re.compile(r"DESIGN\.md|\bissues? #?\d+|\bsession \d+")
    offenders = [
        f"{p.relative_to(REPO_ROOT)}:{i}"
        for p in PACKAGE.rglob("*.py")
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if stale.search(line)
    ]
    assert offenders == []


def test_every_design_citation_names_an_existing_section():
    headings = set(re.findall(r"^#{2,3} (\d+(?:\.\d+)?)[. ]", (REPO_ROOT / "docs" / "design.md").read_text(), re.M))
    assert {"1", "2", "9", "2.3", "9.6"} <= headings
    cited: dict[str, set[str]] = {}
    for folder in ("hf_causal", "train", "benchmarks", "tests", "examples", "dataset_scripts"):
        for path in (REPO_ROOT / folder).rglob("*.py"):
            for block in re.findall(r"docs/design\.md((?:\s*(?:§|and|,)\s*[\d.]+[–-]?)+)", path.read_text()):
                for number in re.findall(r"\d+(?:\.\d+)?", block):
                    cited.setdefault(number, set()).add(str(path.relative_to(REPO_ROOT)))
    assert cited, "no code cites docs/design.md"
    assert {n: sorted(p) for n, p in cited.items() if n not in headings} == {}
