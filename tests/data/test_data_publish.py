"""Tests of the CInA corpus layout and the dataset_scripts builders (parquet + card, loaded back offline)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from support import load_script

datasets = pytest.importorskip("datasets")
yaml = pytest.importorskip("yaml")

from hf_causal.data.corpus import (  # noqa: E402
    corpus_features,
    dataset_to_row,
    load_corpus,
    row_to_dataset,
    write_corpus,
)
from hf_causal.data.families import FAMILIES, sample_family  # noqa: E402
from hf_causal.data.scm import SCMConfig, generate_dataset  # noqa: E402

SCRIPTS = Path(__file__).resolve().parents[2] / "dataset_scripts"


def _script(name: str):
    return load_script(SCRIPTS / f"build_{name}.py", f"build_{name}")


def _card_yaml(folder: Path) -> dict:
    text = (folder / "README.md").read_text(encoding="utf-8")
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


def test_row_round_trip() -> None:
    ds = generate_dataset(SCMConfig(n_units=60, n_covariates=4, covariate_mix={"categorical": 1.0}), 3)
    back = row_to_dataset(dataset_to_row(ds))
    np.testing.assert_allclose(back.X, ds.X, rtol=1e-6)  # X is stored as float32
    for name in ("T", "Y", "mu0", "mu1", "propensity"):
        np.testing.assert_array_equal(getattr(back, name), getattr(ds, name))
    assert back.graph == ds.graph and back.params == ds.params and back.feature_names == ds.feature_names


def test_write_corpus_streams_and_keeps_truth(tmp_path: Path) -> None:
    written = write_corpus(
        tmp_path, {"train": 5, "ood_weak_overlap": 2}, seed=4, rows_per_shard=2, rows_per_group=1, n_units=80
    )
    assert [Path(p).name for p in written["train"]] == [f"train-0000{i}-of-00003.parquet" for i in range(3)]
    pq = pytest.importorskip("pyarrow.parquet")
    assert pq.ParquetFile(tmp_path / written["train"][0]).metadata.num_row_groups == 2
    files = {"train": [str(tmp_path / p) for p in written["train"]]}
    corpus = datasets.load_dataset(
        "parquet", data_files=files, split="train", cache_dir=str(tmp_path / "cache")
    )
    assert corpus.features == corpus_features()
    expected = list(sample_family("train", 5, seed=4, n_units=80))
    for row, ref in zip(corpus, expected):
        # truth columns against an independent recomputation from the stored per-unit columns
        mu0, mu1, T = np.array(row["mu0"]), np.array(row["mu1"]), np.array(row["T"])
        assert row["ate"] == pytest.approx(np.mean(mu1 - mu0), abs=1e-12)
        assert row["att"] == pytest.approx(np.mean((mu1 - mu0)[T == 1]), abs=1e-12)
        assert row["ate"] == pytest.approx(ref.ate, abs=1e-12) and row["seed"] == ref.params["seed"]
        np.testing.assert_allclose(np.array(row["X"]), ref.X, rtol=1e-6, atol=1e-6)
    stream = datasets.load_dataset("parquet", data_files=files, split="train", streaming=True)
    first = next(iter(stream))
    assert first["dataset_id"] == corpus[0]["dataset_id"] and len(first["X"]) == 80


def test_synthetic_corpus_script_builds_loadable_folder(tmp_path: Path) -> None:
    out = tmp_path / "corpus"
    _script("synthetic_corpus").main(
        _script("synthetic_corpus").make,
        "synthetic_corpus",
        ["--output-dir", str(out), "--n-train", "4", "--n-eval", "1", "--max-units", "60"],
        add_arguments=_script("synthetic_corpus").add_arguments,
    )
    card = _card_yaml(out)
    assert card["license"] == "apache-2.0"
    assert [s["split"] for s in card["configs"][0]["data_files"]] == list(FAMILIES)
    dd = datasets.load_dataset(str(out), cache_dir=str(tmp_path / "cache"))
    assert set(dd) == set(FAMILIES) and dd["train"].num_rows == 4 and dd["ood_large_n"].num_rows == 1
    ds = row_to_dataset(dd["ood_mechanism"][0])
    assert ds.params["family"] == "ood_mechanism" and ds.params["config"]["mechanism"] == "rff"
    split = load_corpus(str(out), split="validation")
    assert split.num_rows == 1


def test_lalonde_script_builds_loadable_folder(tmp_path: Path) -> None:
    module = _script("lalonde")
    out = tmp_path / "lalonde"
    module.main(module.make, "lalonde", ["--output-dir", str(out)])
    card = _card_yaml(out)
    assert {c["config_name"] for c in card["configs"]} == {"nsw_experimental", "nsw_cps", "nsw_psid"}
    assert card["license"] == "other"
    exp = datasets.load_dataset(
        str(out), "nsw_experimental", split="train", cache_dir=str(tmp_path / "cache")
    )
    assert isinstance(exp.features["treat"], datasets.ClassLabel)
    t, y = np.array(exp["treat"]), np.array(exp["re78"])
    assert y[t == 1].mean() - y[t == 0].mean() == pytest.approx(1794.34, abs=1.0)
    cps = datasets.load_dataset(str(out), "nsw_cps", split="train", cache_dir=str(tmp_path / "cache"))
    assert cps.num_rows == 16177
    readme = (out / "README.md").read_text(encoding="utf-8")
    assert "1,794.34" in readme and "Dehejia" in readme and "## Licence" in readme


def test_card_only_writes_only_the_card(tmp_path: Path) -> None:
    module = _script("ihdp")
    module.main(
        module.make,
        "ihdp",
        ["--output-dir", str(tmp_path / "card"), "--card-only", "--n-replications", "2"],
        add_arguments=module.add_arguments,
    )
    assert [p.name for p in (tmp_path / "card").iterdir()] == ["README.md"]



@pytest.mark.network
def test_push_to_hub_uploads_the_written_folder(tmp_path: Path, default_endpoint: str,
                                                monkeypatch: pytest.MonkeyPatch, recording_hub) -> None:
    """``--push-to-hub`` sends the folder as written (every config's parquet + the card) in one dataset commit."""
    monkeypatch.setenv("HF_TOKEN", "t")
    module = _script("ihdp")
    module.main(
        module.make,
        "ihdp",
        ["--output-dir", str(tmp_path / "ihdp"), "--n-replications", "2", "--push-to-hub", "org/ihdp"],
        add_arguments=module.add_arguments,
    )
    commit = recording_hub.commits[-1]
    assert commit["repo_type"] == "dataset" and commit["repo_id"] == "org/ihdp"
    written = {p.relative_to(tmp_path / "ihdp").as_posix() for p in (tmp_path / "ihdp").rglob("*") if p.is_file()}
    assert set(commit["files"]) == written
    assert {f.split("/")[0] for f in written if f.endswith(".parquet")} == {"surface_A", "surface_B"}
    assert commit["files"]["README.md"] == (tmp_path / "ihdp" / "README.md").read_bytes()
    dd = datasets.load_dataset(
        str(tmp_path / "ihdp"), "surface_B", split="train", cache_dir=str(tmp_path / "c")
    )
    assert dd.num_rows == 2 * 747 and sorted(set(dd["replication"])) == [0, 1]
    with pytest.raises(ValueError, match="ORG/NAME"):
        module.main(module.make, "ihdp", ["--output-dir", str(tmp_path / "x"), "--n-replications", "1",
                                          "--push-to-hub", "no-slash"], add_arguments=module.add_arguments)


def test_load_corpus_family_mode() -> None:
    ds = load_corpus("test", n_datasets=2, seed=1, n_units=50)
    ref = list(sample_family("test", 2, seed=1, n_units=50))
    assert ds.num_rows == 2 and ds.features == corpus_features()
    for row, r in zip(ds, ref):
        np.testing.assert_array_equal(np.array(row["Y"]), r.Y)
        assert json.loads(row["params"])["seed"] == r.params["seed"]
    stream = load_corpus("test", streaming=True, seed=1, n_units=50)
    assert next(iter(stream))["seed"] == ref[0].params["seed"]


def test_corpus_bad_input(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown family"):
        write_corpus(tmp_path, {"nope": 1})
    with pytest.raises(ValueError, match="positive int"):
        write_corpus(tmp_path, {"train": 0})
    with pytest.raises(ValueError, match="n_datasets is required"):
        load_corpus("train")
    with pytest.raises(ValueError, match="neither a family"):
        load_corpus("no_such_thing")
    with pytest.raises(ValueError, match="only apply"):
        load_corpus(str(tmp_path), n_datasets=3)
    with pytest.raises(TypeError):
        dataset_to_row({"X": []})  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["lalonde", "jobs", "nhefs", "acic2016", "ihdp", "synthetic_corpus"])
def test_model_cards_are_up_to_date(name: str, tmp_path: Path) -> None:
    """model_cards/datasets/<name>/README.md is what `build_<name>.py --card-only` renders."""
    module = _script(name)
    module.main(
        module.make,
        name,
        ["--output-dir", str(tmp_path), "--card-only"],
        add_arguments=getattr(module, "add_arguments", None),
    )
    committed = SCRIPTS.parent / "model_cards" / "datasets" / name / "README.md"
    assert committed.read_text(encoding="utf-8") == (tmp_path / "README.md").read_text(encoding="utf-8"), (
        f"regenerate with: python dataset_scripts/build_{name}.py --card-only --output-dir model_cards/datasets/{name}"
    )
