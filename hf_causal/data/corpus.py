"""CInA pretraining corpora as Hugging Face datasets: one row per synthetic dataset.

Layout (what ``dataset_scripts/build_synthetic_corpus.py`` writes and :func:`load_corpus` reads)::

    README.md                                      card; YAML ``configs:`` maps each family to a split
    data/<family>-<k>-of-<K>.parquet               shards of ``rows_per_shard`` datasets each,
                                                   row groups of ``rows_per_group`` datasets (streams well)

so ``load_dataset(folder)`` gives a ``DatasetDict`` whose splits are the families (``train``, ``validation``,
``test``, ``ood_*``) and ``load_dataset(folder, split="train", streaming=True)`` streams row group by row group.

Columns (:func:`corpus_features`): ``dataset_id``, ``family``, ``seed`` (generator seed), ``index``,
``n_units``, ``n_features``, ``feature_names``, ``X`` (``N`` lists of ``p`` float32: covariates),
``T`` (int8), ``Y``, ``mu0``, ``mu1``, ``propensity`` (float64 per unit), ``ate``, ``att``, ``atc``,
``naive_difference`` (float64), ``graph`` (list of ``{parent, child}``) and ``params`` (JSON string).
The truth columns are computed from ``mu0``/``mu1`` in float64 before ``X`` is stored as float32.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .families import FAMILIES, sample_family
from .scm import SyntheticDataset

__all__ = [
    "corpus_features",
    "dataset_to_row",
    "iter_synthetic_datasets",
    "load_corpus",
    "row_to_dataset",
    "write_corpus",
]

_PER_UNIT_F64 = ("Y", "mu0", "mu1", "propensity")
_SCALARS = ("ate", "att", "atc", "naive_difference")


def corpus_features() -> Any:
    """Explicit :class:`datasets.Features` of a corpus row."""
    from datasets import Features, List, Value

    f64 = Value("float64")
    return Features(
        {
            "dataset_id": Value("string"),
            "family": Value("string"),
            "seed": Value("int64"),
            "index": Value("int64"),
            "n_units": Value("int32"),
            "n_features": Value("int32"),
            "feature_names": List(Value("string")),
            "X": List(List(Value("float32"))),
            "T": List(Value("int8")),
            **{name: List(f64) for name in _PER_UNIT_F64},
            **{name: f64 for name in _SCALARS},
            "graph": List({"parent": Value("string"), "child": Value("string")}),
            "params": Value("string"),
        }
    )


def dataset_to_row(ds: SyntheticDataset) -> dict[str, Any]:
    """A corpus row (plain Python / numpy values) for one :class:`SyntheticDataset`."""
    if not isinstance(ds, SyntheticDataset):
        raise TypeError(f"expected a SyntheticDataset, got {type(ds).__name__}")
    family = str(ds.params.get("family", "custom"))
    seed = int(ds.params.get("seed", -1))
    return {
        "dataset_id": f"{family}/{seed}",
        "family": family,
        "seed": seed,
        "index": int(ds.params.get("index", -1)),
        "n_units": ds.n_units,
        "n_features": int(ds.X.shape[1]),
        "feature_names": list(ds.feature_names),
        "X": ds.X.astype(np.float32),
        "T": ds.T.astype(np.int8),
        **{name: np.asarray(getattr(ds, name), dtype=np.float64) for name in _PER_UNIT_F64},
        "ate": ds.ate,
        "att": ds.att,
        "atc": ds.atc,
        "naive_difference": ds.naive_difference,
        "graph": [{"parent": p, "child": c} for p, c in ds.graph],
        "params": json.dumps(ds.params, sort_keys=True),
    }


def row_to_dataset(row: Mapping[str, Any]) -> SyntheticDataset:
    """Rebuild a :class:`SyntheticDataset` from a corpus row (python lists or numpy-formatted)."""
    X = row["X"]
    if isinstance(X, np.ndarray) and X.dtype == object:
        X = np.stack(list(X)) if len(X) else np.empty((0, int(row["n_features"])))
    X = np.asarray(X, dtype=np.float64).reshape(int(row["n_units"]), int(row["n_features"]))
    graph = row.get("graph")
    if graph is None:
        graph = []
    elif isinstance(graph, Mapping):  # columnar struct formatting
        graph = [{"parent": p, "child": c} for p, c in zip(graph["parent"], graph["child"])]
    return SyntheticDataset(
        X=X,
        feature_names=list(row["feature_names"]),
        T=np.asarray(row["T"], dtype=np.int64),
        Y=np.asarray(row["Y"], dtype=np.float64),
        mu0=np.asarray(row["mu0"], dtype=np.float64),
        mu1=np.asarray(row["mu1"], dtype=np.float64),
        propensity=np.asarray(row["propensity"], dtype=np.float64),
        graph=[(str(e["parent"]), str(e["child"])) for e in graph],
        params=json.loads(row["params"]),
    )


def iter_synthetic_datasets(corpus: Iterable[Mapping[str, Any]]) -> Iterator[SyntheticDataset]:
    """Iterate over a corpus split (``Dataset`` or ``IterableDataset``) as :class:`SyntheticDataset` objects."""
    for row in corpus:
        yield row_to_dataset(row)


def _rows_to_table(rows: list[dict[str, Any]], schema: Any) -> Any:
    """Arrow table of corpus rows, building the nested ``X`` column from flat numpy buffers (fast)."""
    import pyarrow as pa

    def offsets(lengths: list[int]) -> pa.Array:
        return pa.array(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32))

    columns: dict[str, Any] = {}
    for name in ("dataset_id", "family", "seed", "index", "n_units", "n_features", "params"):
        columns[name] = pa.array([r[name] for r in rows], type=schema.field(name).type)
    for name in _SCALARS:
        columns[name] = pa.array([float(r[name]) for r in rows], type=pa.float64())
    columns["feature_names"] = pa.array(
        [r["feature_names"] for r in rows], type=schema.field("feature_names").type
    )
    columns["graph"] = pa.array([r["graph"] for r in rows], type=schema.field("graph").type)
    n_units = [int(r["n_units"]) for r in rows]
    for name in ("T", *_PER_UNIT_F64):
        flat = np.concatenate([np.asarray(r[name]) for r in rows])
        columns[name] = pa.ListArray.from_arrays(offsets(n_units), pa.array(flat))
    flat_x = np.concatenate([np.asarray(r["X"], dtype=np.float32).ravel() for r in rows])
    inner_lengths = [int(r["n_features"]) for r in rows for _ in range(int(r["n_units"]))]
    inner = pa.ListArray.from_arrays(offsets(inner_lengths), pa.array(flat_x))
    columns["X"] = pa.ListArray.from_arrays(offsets(n_units), inner)
    arrays = [columns[f.name].cast(f.type) for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema)


def write_corpus(
    output_dir: str | Path,
    n_datasets: Mapping[str, int],
    seed: int = 0,
    rows_per_shard: int = 500,
    rows_per_group: int = 16,
    **overrides: Any,
) -> dict[str, list[str]]:
    """Generate families and write them as parquet shards under ``output_dir/data``.

    Args:
        output_dir: dataset folder (created).
        n_datasets: ``{family name: number of datasets}``.
        seed: stream seed passed to :func:`~hf_causal.data.families.sample_family`.
        rows_per_shard: datasets per parquet file.
        rows_per_group: datasets per parquet row group (the streaming unit).
        **overrides: fixed :class:`~hf_causal.data.scm.SCMConfig` fields (e.g. ``n_units=200`` for tests).

    Returns:
        ``{family: [relative shard paths]}``.
    """
    import pyarrow.parquet as pq

    if not isinstance(n_datasets, Mapping) or not n_datasets:
        raise ValueError("n_datasets must be a non-empty mapping {family: count}")
    for fam, count in n_datasets.items():
        if fam not in FAMILIES:
            raise ValueError(f"unknown family {fam!r}; choose from {sorted(FAMILIES)}")
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"n_datasets[{fam!r}] must be a positive int, got {count!r}")
    if rows_per_shard < 1 or rows_per_group < 1:
        raise ValueError("rows_per_shard and rows_per_group must be >= 1")
    schema = corpus_features().arrow_schema
    data_dir = Path(output_dir) / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, list[str]] = {}
    for fam, count in n_datasets.items():
        n_shards = -(-count // rows_per_shard)
        stream = sample_family(fam, count, seed=seed, **overrides)
        written[fam] = []
        for shard in range(n_shards):
            rel = f"data/{fam}-{shard:05d}-of-{n_shards:05d}.parquet"
            size = min(rows_per_shard, count - shard * rows_per_shard)
            with pq.ParquetWriter(str(Path(output_dir) / rel), schema) as writer:
                done = 0
                while done < size:
                    batch = [dataset_to_row(next(stream)) for _ in range(min(rows_per_group, size - done))]
                    writer.write_table(_rows_to_table(batch, schema), row_group_size=len(batch))
                    done += len(batch)
            written[fam].append(rel)
    return written


def load_corpus(
    path_or_family: str | Path,
    split: str | None = "train",
    *,
    streaming: bool = False,
    n_datasets: int | None = None,
    seed: int = 0,
    **overrides: Any,
) -> Any:
    """Load a corpus split as a ``datasets.Dataset`` (or ``IterableDataset`` when ``streaming``).

    Args:
        path_or_family: a corpus folder or Hub id (read with ``datasets.load_dataset``), or a family name of
            :data:`~hf_causal.data.families.FAMILIES`, generated in memory on the fly. A string equal to a family
            name is always the family: pass a :class:`~pathlib.Path` (or ``"./train"``) for such a folder.
        split: the family split to read from a folder / Hub repo (``None``: the whole ``DatasetDict``);
            ignored for a family name.
        streaming: stream instead of loading (a family name then gives an endless-capable generator).
        n_datasets: number of datasets to generate for a family name (required unless ``streaming``).
        seed: stream seed for a family name.
        **overrides: fixed SCMConfig fields for a family name.
    """
    from datasets import Dataset, IterableDataset, load_dataset

    name = str(path_or_family)
    if name in FAMILIES and not isinstance(path_or_family, Path):
        features = corpus_features()

        def gen() -> Iterator[dict[str, Any]]:
            for ds in sample_family(name, n_datasets, seed=seed, **overrides):
                row = dataset_to_row(ds)
                row["X"] = row["X"].tolist()
                yield row

        if streaming:
            return IterableDataset.from_generator(gen, features=features)
        if n_datasets is None:
            raise ValueError("n_datasets is required to materialise a family (or pass streaming=True)")
        return Dataset.from_list(list(gen()), features=features)
    if overrides or n_datasets is not None:
        raise ValueError("n_datasets / SCMConfig overrides only apply when path_or_family is a family name")
    if not Path(name).exists() and name.count("/") != 1:
        raise ValueError(
            f"{name!r} is neither a family name ({sorted(FAMILIES)}), a folder, nor a Hub id ORG/NAME"
        )
    return load_dataset(name, split=split, streaming=streaming)


def family_table_markdown() -> str:
    """Markdown table of the named families' parameter ranges (for cards and docs)."""
    cols = [
        ("N", "n_units"),
        ("d", "n_covariates"),
        ("density", "density"),
        ("mechanisms", "mechanisms"),
        ("confounding", "confounding_strength"),
        ("alignment", "prognostic_alignment"),
        ("overlap", "overlap"),
    ]
    lines = [
        "| family | " + " | ".join(c for c, _ in cols) + " | what differs |",
        "|---" * (len(cols) + 2) + "|",
    ]
    for spec in FAMILIES.values():
        cells = []
        for _, attr in cols:
            value = getattr(spec, attr)
            if attr == "mechanisms":
                cells.append(", ".join(value))
            elif isinstance(value[0], int):
                cells.append(f"{value[0]:,}–{value[1]:,}")
            else:
                cells.append(f"{value[0]:g}–{value[1]:g}")
        lines.append(f"| `{spec.name}` | " + " | ".join(cells) + f" | {spec.description} |")
    return "\n".join(lines)
