"""``hf-causal`` command line.

``hf-causal estimate DATA --treatment COL --outcome COL [--covariates ...] [--model NAME_OR_PATH]
[--estimand ate|att|atc|overlap|cate] [--method cina-zs|cina] [--output effects.csv] [--json]``

``DATA`` is a csv, parquet or jsonl file, or ``benchmark:NAME`` for a dataset packaged with
:mod:`hf_causal.data` (e.g. ``benchmark:lalonde_nsw_cps``). Parquet data (files, folders, ``data/*.parquet``)
is read in chunks, pass after pass, for an average effect with the zero-shot model, so a table larger than
memory works (``--chunk-rows``, ``--weights-out DIR``, ``--dask-scheduler ADDRESS``; docs/design.md §4.9).
Errors print one line and exit non-zero.

The other subcommands complete the loop (see ``hf-causal COMMAND --help``):

* ``train {cina,outcome,engine,lora} [SCRIPT ARGS...]`` -- run ``train/pretrain_cina.py``,
  ``train/pretrain_outcome.py``, ``train/train_engine.py`` or ``train/finetune_lora.py``;
* ``evaluate {ate,cate,text,engine,discovery,scale} [SCRIPT ARGS...]`` -- run ``benchmarks/<name>_benchmark.py``;
* ``push PATH REPO_ID`` -- upload a checkpoint (with its code and a generated card) or a dataset folder;
* ``cards RESULTS.json --checkpoint DIR`` -- regenerate a model card from a results file (or from benchmark
  records: ``cards --from-records run.jsonl --checkpoint DIR``).

``train`` and ``evaluate`` delegate to the scripts of a source checkout (``--root``, or ``$HF_CAUSAL_ROOT``,
default: the checkout hf_causal is installed from) by subprocess and pass their exit status through.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from .cli_tables import check_plot_option, read_parquet_table, read_table, warn_saved_index, write_table
from .core.options import (
    AUTO_NETWORK_MAX_UNITS,
    DEFAULT_ESTIMAND,
    DEFAULT_METHOD,
    DEFAULT_MOMENTS,
    DEFAULT_OUTCOME_MODEL,
    ESTIMANDS,
    METHODS,
    MOMENTS,
    OUTCOME_MODELS,
    PER_UNIT_ESTIMANDS,
)
from .data.inputs import split_frame, validate_inputs, validate_outcome, validate_treatment

EXIT_USAGE = 2
EXIT_FAILURE = 1

TRAIN_SCRIPTS = {
    "cina": "train/pretrain_cina.py", "engine": "train/train_engine.py", "lora": "train/finetune_lora.py",
    "outcome": "train/pretrain_outcome.py",
}
BENCHMARK_SCRIPTS = {
    "ate": "benchmarks/ate_benchmark.py",
    "cate": "benchmarks/cate_benchmark.py",
    "text": "benchmarks/text_benchmark.py",
    "engine": "benchmarks/engine_benchmark.py",
    "discovery": "benchmarks/discovery_benchmark.py",
    "scale": "benchmarks/scale_benchmark.py",
}


class CommandError(RuntimeError):
    """A failure of a ``train``/``evaluate``/``push``/``cards`` command, reported as one line."""


#: With ``--outcome-model auto``, one parquet file of at most this many rows is read into memory, so that it gets
#: the in-context outcome network like a CSV does; larger tables, folders and several files are streamed (where
#: ``auto`` means the kernel outcome model, as it does in memory above this size; docs/design.md §4.9).
STREAM_ABOVE_ROWS = AUTO_NETWORK_MAX_UNITS


def _positive_int(text: str) -> int:
    """argparse type of a count: a whole number >= 1 (so that ``--chunk-rows 0`` is refused whichever path reads it)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def _load_model(name: str) -> Any:
    """The CInA checkpoint ``name``, with the model stack imported only now (bad input has failed before it)."""
    from transformers.utils import logging as hf_logging

    from .cina import CInAModel

    hf_logging.disable_progress_bar()  # keep stderr for warnings and the one-line errors
    hf_logging.set_verbosity_error()  # a checkpoint that loads wrong is refused in one line, not reported in a table
    return CInAModel.from_pretrained(name)


def _progress(args: argparse.Namespace) -> bool:
    """Progress bars (streamed passes, per-dataset optimisation): ``--[no-]progress``, else when stderr is a terminal
    and the output is not ``--json``."""
    return args.progress if args.progress is not None else (sys.stderr.isatty() and not args.json)


def _streamable(args: argparse.Namespace) -> bool:
    """Parquet data and options a streamed estimate supports (docs/design.md §4.9)."""
    from .data.sources import as_table_source, is_parquet_spec

    source = args.data if len(args.data) > 1 else args.data[0]
    if args.text_columns:  # texts are scored in memory
        return False
    if not (is_parquet_spec(source) and args.estimand not in PER_UNIT_ESTIMANDS and args.method == "cina-zs"
            and (args.outcome_model != "pretrained" or args.estimand == "overlap")):
        return False
    # --weights-out is output only: it does not send a table the in-memory estimate reads to the stream (whose
    # "auto" outcome model is the kernel model), which would change the number it reports
    if args.outcome_model != "auto" or args.dask_scheduler or len(args.data) > 1:
        return True
    path = Path(str(source))
    if not path.is_file():  # a folder or a glob: a table read in parts
        return True
    rows = as_table_source(source).rows
    return rows is None or rows > STREAM_ABOVE_ROWS


def _estimate_stream(args: argparse.Namespace) -> int:
    """Parquet files or folders read in chunks, pass after pass: memory bounded by ``--chunk-rows``."""
    from .data.sources import as_table_source
    from .data.stream_checks import StreamSchema

    if not args.treatment or not args.outcome:
        raise ValueError("--treatment and --outcome are required for a data file")
    source = args.data if len(args.data) > 1 else args.data[0]
    StreamSchema(as_table_source(source).head(), args.treatment, args.outcome, args.covariates)  # before torch loads
    from .cina.streaming import estimate_stream

    model = _load_model(args.model)
    client = None
    if args.dask_scheduler:
        from dask.distributed import Client

        client = Client(args.dask_scheduler)
    progress = _progress(args)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = estimate_stream(model, source, args.treatment, args.outcome, covariates=args.covariates,
                                     estimand=args.estimand, moments=args.moments, outcome_model=args.outcome_model,
                                     cross_moments=args.cross_moments, chunk_rows=args.chunk_rows, weights_path=args.weights_out, client=client,
                                     progress=progress)
    finally:
        if client is not None:
            client.close()
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    return _report(args, result, {})


def _estimate(args: argparse.Namespace) -> int:
    if args.outcome_model is None:  # per-unit effects come from the outcome network, as model.cate's default
        args.outcome_model = "pretrained" if args.estimand in PER_UNIT_ESTIMANDS else DEFAULT_OUTCOME_MODEL
    if args.estimand in PER_UNIT_ESTIMANDS and args.outcome_model == "none":
        raise ValueError("--estimand cate needs an outcome model: --outcome-model pretrained (default) or kernel")
    for flag, given in (("--output", args.output), ("--plot", args.plot)):
        if given and args.estimand not in PER_UNIT_ESTIMANDS:
            raise ValueError(f"{flag} is for per-unit effects: use it with --estimand {PER_UNIT_ESTIMANDS[0]}")
    if _streamable(args):
        return _estimate_stream(args)
    from .data.sources import is_parquet_spec, prepare_weights_folder, write_weights

    if args.dask_scheduler:
        raise ValueError("--dask-scheduler needs parquet data and --method cina-zs with an average effect (the "
                         "streamed estimate)")
    if args.weights_out:
        if args.estimand in PER_UNIT_ESTIMANDS:
            raise ValueError("--weights-out writes the balancing weights of an average effect (ate, att, atc, "
                             "overlap); per-unit effects go to --output")
        prepare_weights_folder(args.weights_out)  # before any work: a folder holding weights is refused
    source = args.data if len(args.data) > 1 else args.data[0]
    if is_parquet_spec(source) and (len(args.data) > 1 or not Path(str(source)).is_file()):
        # several parquet files (a folder, a glob) with an option the streamed estimate does not have (per-unit
        # effects, --method cina, the outcome network, texts): read them into memory as one table
        frame, meta = read_parquet_table(source), {}
    elif len(args.data) > 1:
        raise ValueError("several data files are read as one table only when they are parquet")
    else:
        frame, meta = read_table(args.data[0])
    treatment = args.treatment or meta.get("treatment")
    outcome = args.outcome or meta.get("outcome")
    if not treatment or not outcome:
        raise ValueError("--treatment and --outcome are required for a data file")
    covariates = args.covariates or meta.get("covariates")
    if args.covariates and args.text_columns:  # the texts are covariates too, whether --covariates lists them or not
        covariates = [*covariates, *(c for c in args.text_columns if c not in covariates)]
    x, t, y = split_frame(frame, treatment, outcome, covariates)
    if covariates is None:
        warn_saved_index(x.columns)
    text = text_options(args, x)  # checks --text-columns before the data
    # numpy and pandas only: bad input fails before torch and transformers load (texts are checked when scored)
    rest = x.drop(columns=args.text_columns or [])
    if rest.shape[1]:
        validate_inputs(rest, t, y)
    else:  # only texts: nothing else to encode
        validate_treatment(t, len(x))
        validate_outcome(y, len(x))
    check_plot_option(args, frame)
    model = _load_model(args.model)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if args.estimand in PER_UNIT_ESTIMANDS:
            outcome_model = "kernel" if args.outcome_model == "kernel" else "pretrained"
            result = model.cate(x, t, y, outcome_model=outcome_model)
        else:
            extra = {"progress": _progress(args)} if args.method == "cina" else {}
            result = model.estimate(x, t, y, estimand=args.estimand, method=args.method, moments=args.moments,
                                    outcome_model=args.outcome_model, cross_moments=args.cross_moments, **extra,
                                    **text)
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    if args.weights_out:
        print(f"wrote each row's weight to {write_weights(args.weights_out, t, result.weights)}", file=sys.stderr)
    if result.effects is not None:
        return _report_effects(args, frame, result)
    return _report(args, result, meta)


def text_options(args: argparse.Namespace, covariates: pd.DataFrame) -> dict[str, Any]:
    """``model.estimate``'s keywords for ``--text-columns`` (scored texts, docs/design.md §4.10), checked."""
    if not args.text_columns:
        return {}
    if args.estimand in PER_UNIT_ESTIMANDS:
        raise ValueError("--text-columns works with average effects (ate, att, atc), not --estimand cate")
    missing = [c for c in args.text_columns if c not in covariates.columns]
    if missing:
        raise ValueError(f"--text-columns {missing} are not covariate columns of the data")
    return {"text_features": "scores", "text_columns": list(args.text_columns)}


def _report(args: argparse.Namespace, result: Any, meta: dict) -> int:
    """Print an average effect's JSON or summary (with the benchmark truth, when known)."""
    if args.json:
        payload = result.to_dict()
        payload["model"] = args.model
        for key in ("true_ate", "true_att", "name"):
            if meta.get(key) is not None:
                payload[key] = meta[key]
        print(json.dumps(payload))
    else:
        print(result.summary())
        truth = meta.get(f"true_{args.estimand}")
        if truth is not None:
            print(f"benchmark truth ({args.estimand.upper()}): {truth:.4g}")
        print("\nLargest imbalances before weighting:")
        top = result.balance.reindex(result.balance["smd_before"].abs().sort_values(ascending=False).index)[:8]
        print(top.round(3).to_string())
    return 0


def _report_effects(args: argparse.Namespace, frame: pd.DataFrame, result: Any) -> int:
    """Print a per-unit estimate's summary (or JSON), write the rows with their effects to ``--output`` and draw
    them against a covariate into ``--plot``'s file."""
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")  # a file, not a window: the command line may run where there is no display
        column, path = args.plot
        ax = result.plot_effects(frame[column].reset_index(drop=True))
        ax.figure.savefig(path, dpi=120, bbox_inches="tight")
    if args.output:
        columns = {"cate": "cate", "std_error": "cate_std_error", "ci_low": "cate_ci_low", "ci_high": "cate_ci_high"}
        rows = frame.reset_index(drop=True).join(result.effects[list(columns)].rename(columns=columns)
                                                 .reset_index(drop=True))
        write_table(rows, args.output)
    if args.json:
        payload = result.to_dict()
        payload.update(model=args.model, output=args.output)
        print(json.dumps(payload))
    else:
        print(result.summary())
        print(f"wrote {len(result.effects)} per-unit effects to {args.output}" if args.output
              else "(--output effects.csv writes the per-unit effects)")
        if args.plot:
            print(f"drew the effects against {args.plot[0]} in {args.plot[1]}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(prog="hf-causal", description="Causal foundation models on the Hugging Face stack.")
    sub = parser.add_subparsers(dest="command", required=True)
    est = sub.add_parser("estimate", help="estimate a treatment effect with CInA balancing weights")
    est.add_argument("data", nargs="+", help="csv/parquet/jsonl file, benchmark:NAME[:REPLICATION], or parquet "
                     "files / folders read in chunks (a table larger than memory)")
    est.add_argument("--treatment", help="binary treatment column")
    est.add_argument("--outcome", help="outcome column")
    est.add_argument("--covariates", nargs="+", help="covariate columns (default: every other column)")
    est.add_argument("--model", default="cina-zs-base", help="bundled name, local folder or Hub id")
    est.add_argument("--estimand", default=DEFAULT_ESTIMAND, choices=ESTIMANDS + PER_UNIT_ESTIMANDS,
                     help="an average effect, or cate: per-unit conditional effects with intervals")
    est.add_argument("--moments", type=int, default=DEFAULT_MOMENTS, choices=MOMENTS,
                     help="calibrate weighted means of the covariates (1) or also of their squares (2, default)")
    est.add_argument("--cross-moments", action="store_true",
                     help="with --moments 2, also balance the pairwise products of covariates whose arm covariances "
                     "differ most (for treatment assigned through interactions; off by default, see the README)")
    est.add_argument("--outcome-model", default=None, choices=OUTCOME_MODELS,
                     help=f"kernel: augment the weights with a kernel ridge outcome model; pretrained: with the "
                     "checkpoint's in-context outcome network (the kernel model where the checkpoint's spread limit "
                     "withholds it; the output says so); auto: pretrained when the checkpoint has one and the "
                     f"table has at most {AUTO_NETWORK_MAX_UNITS:,} rows, else kernel; none: "
                     f"weights only (default: {DEFAULT_OUTCOME_MODEL}; for --estimand cate, pretrained)")
    est.add_argument("--method", default=DEFAULT_METHOD, choices=METHODS,
                     help="cina-zs: zero-shot forward pass; cina: per-dataset optimisation (a few hundred L-BFGS "
                     "steps with a progress bar; above 4,096 units on a Nystrom kernel of 1,024 landmarks, so each "
                     "step costs O(N) rather than O(N^2))")
    est.add_argument("--text-columns", nargs="+", metavar="COLUMN",
                     help="free-text covariate columns, each replaced by cross-fitted scores of its words "
                          "(treatment log-odds, outcome per arm; needs scikit-learn)")
    est.add_argument("--output", help="with --estimand cate: write the rows with their effects (csv/parquet/jsonl)")
    est.add_argument("--plot", nargs=2, metavar=("COVARIATE", "FILE"),
                     help="with --estimand cate: draw the effects and their intervals against COVARIATE (a column "
                          "of the data) into FILE (.png, .pdf or .svg)")
    est.add_argument("--json", action="store_true", help="print one JSON object")
    est.add_argument("--weights-out", metavar="DIR", help="average effects: write each row's balancing weight to DIR "
                     "(parquet: row, treatment, weight; read in memory or streamed, the estimate is the same as without "
                     "it)")
    stream = est.add_argument_group("parquet data read in chunks (average effects, --method cina-zs)")
    stream.add_argument("--chunk-rows", type=_positive_int, default=65_536, help="rows per chunk: memory grows with it, not N")
    stream.add_argument("--dask-scheduler", metavar="ADDRESS", help="run the passes on a Dask cluster "
                        "(pip install hf-causal[dask]), e.g. tcp://10.0.0.1:8786")
    stream.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="progress bars: one per pass of a streamed table, or per-dataset CInA's optimisation "
                        "(default: when stderr is a terminal and not --json)")
    est.set_defaults(func=_estimate)
    _add_loop_commands(sub)
    return parser


# -- train / evaluate / push / cards -------------------------------------------------------------------


def source_root(explicit: str | None = None) -> Path:
    """The source checkout holding ``train/`` and ``benchmarks/`` (``--root``, ``$HF_CAUSAL_ROOT``, or the
    checkout hf_causal is installed from in editable mode)."""
    if explicit:
        return Path(explicit)
    if os.environ.get("HF_CAUSAL_ROOT"):
        return Path(os.environ["HF_CAUSAL_ROOT"])
    return Path(__file__).resolve().parent.parent


def _run_script(
    kind: str, name: str, relative: str, script_args: Sequence[str], root: str | None, launcher: Sequence[str] = ()
) -> int:
    script = source_root(root) / relative
    if not script.is_file():
        raise CommandError(
            f"{relative} not found under {script.parent.parent}: run from a source checkout of hf-causal "
            "or pass --root / set HF_CAUSAL_ROOT"
        )
    args = list(script_args)
    if args[:1] == ["--"]:
        args = args[1:]
    proc = subprocess.run([sys.executable, *launcher, str(script), *args], cwd=os.getcwd())
    if proc.returncode != 0:
        raise CommandError(f"{kind} {name}: {relative} exited with status {proc.returncode}")
    return 0


def _train(args: argparse.Namespace) -> int:
    launcher: list[str] = []
    if args.accelerate or args.num_processes is not None:
        # `python -m accelerate.commands.launch` is `accelerate launch` without relying on the console script
        launcher = ["-m", "accelerate.commands.launch"]
        if args.num_processes is not None:
            if args.num_processes < 1:
                raise ValueError(f"--num-processes must be >= 1, got {args.num_processes}")
            launcher += ["--num_processes", str(args.num_processes)]
    return _run_script("train", args.target, TRAIN_SCRIPTS[args.target], args.script_args, args.root, launcher)


def _evaluate(args: argparse.Namespace) -> int:
    return _run_script("evaluate", args.benchmark, BENCHMARK_SCRIPTS[args.benchmark], args.script_args, args.root)


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _push(args: argparse.Namespace) -> int:
    from . import hub

    path = Path(args.path)
    if not path.is_dir():
        raise FileNotFoundError(f"folder to push not found: {path}")
    results = hub.read_json_file(args.results) if args.results else None
    try:
        if args.dataset:
            info = hub.push_dataset_folder(
                path, args.repo_id, endpoint=args.endpoint, token=args.token, private=args.private or None,
                commit_message=args.message,
            )
        else:
            info = hub.push_to_hub(
                path, args.repo_id, results=results, endpoint=args.endpoint, token=args.token,
                private=args.private or None, revision=args.revision, commit_message=args.message,
            )
    except (FileNotFoundError, ValueError):
        raise
    except Exception as err:  # HTTP and connection errors of huggingface_hub / httpx: report one line
        raise CommandError(f"upload to {args.repo_id} failed: {_first_line(err)}") from err
    print(getattr(info, "commit_url", None) or info)
    return 0


def _cards(args: argparse.Namespace) -> int:
    import tempfile

    from . import hub

    with tempfile.TemporaryDirectory() as tmp:
        results = args.results
        if args.from_records:
            if results:
                raise ValueError("give either a results JSON or --from-records, not both")
            payload = {"results": hub.results_from_benchmark_records(args.from_records, args.method)}
            results = str(Path(tmp) / "results.json")
            Path(results).write_text(json.dumps(payload))
        elif not results:
            raise ValueError("give a results JSON or --from-records RECORDS.jsonl")
        if args.output == "-":
            out = hub.write_model_card(results, Path(tmp) / "README.md", args.checkpoint, args.repo_id)
            print(out.read_text(), end="")
        else:
            out = hub.write_model_card(results, args.output, args.checkpoint, args.repo_id)
            print(f"wrote {out}")
    return 0


def _add_loop_commands(sub: argparse._SubParsersAction) -> None:
    remainder_help = "arguments passed to the script unchanged (put -- before options such as --help)"
    train = sub.add_parser(
        "train", help="train a model with the scripts in train/ (delegates by subprocess)",
        description="Run train/pretrain_cina.py (cina), train/pretrain_outcome.py (outcome), train/train_engine.py "
        "(engine) or train/finetune_lora.py (lora) with the given arguments, e.g. hf-causal train cina --config "
        "train/configs/cina_zs_base.yaml --output-dir outputs/cina. Options of train itself (--root, --accelerate, "
        "--num-processes) go before TARGET; everything after TARGET goes to the script.",
    )
    train.add_argument("target", choices=sorted(TRAIN_SCRIPTS), help="what to train")
    train.add_argument(
        "--accelerate", action="store_true",
        help="run the script under `accelerate launch` (multi-GPU / multi-node; uses your `accelerate config`)",
    )
    train.add_argument("--num-processes", type=int, help="processes for accelerate launch (implies --accelerate)")
    train.add_argument("--root", help="source checkout holding train/ (default: $HF_CAUSAL_ROOT or this checkout)")
    train.add_argument("script_args", nargs=argparse.REMAINDER, help=remainder_help, metavar="...")
    train.set_defaults(func=_train)

    evaluate = sub.add_parser(
        "evaluate", help="run a benchmark from benchmarks/ (delegates by subprocess)",
        description="Run benchmarks/<name>_benchmark.py with the given arguments, e.g. hf-causal evaluate ate "
        "--quick. Options of evaluate itself (--root) go before the benchmark's name; everything after it goes to "
        "the script.",
    )
    evaluate.add_argument("benchmark", choices=sorted(BENCHMARK_SCRIPTS), help="which benchmark")
    evaluate.add_argument("--root", help="source checkout holding benchmarks/ (default: $HF_CAUSAL_ROOT or this checkout)")
    evaluate.add_argument("script_args", nargs=argparse.REMAINDER, help=remainder_help, metavar="...")
    evaluate.set_defaults(func=_evaluate)

    push = sub.add_parser(
        "push", help="upload a checkpoint (with its code and a model card) or a dataset folder to the Hub",
        description="Upload a checkpoint folder: it is loaded with the hf-causal classes and re-saved with its "
        "code (auto_map, loadable with trust_remote_code=True) and a generated model card. With --dataset, "
        "upload a dataset folder built by dataset_scripts/ as is.",
    )
    push.add_argument("path", help="checkpoint folder (or dataset folder with --dataset)")
    push.add_argument("repo_id", help="ORG/NAME")
    push.add_argument("--dataset", action="store_true", help="push a dataset folder (parquet + README.md)")
    push.add_argument("--results", help="results JSON for the model card's eval results (see hf-causal cards)")
    push.add_argument("--endpoint", help="Hub-compatible endpoint (default: $HF_ENDPOINT or huggingface.co)")
    push.add_argument("--token", help="Hub token (default: the stored login / $HF_TOKEN)")
    push.add_argument("--private", action="store_true", help="create the repo as private")
    push.add_argument("--revision", help="branch to push to")
    push.add_argument("--message", help="commit message")
    push.set_defaults(func=_push)

    cards = sub.add_parser(
        "cards", help="regenerate a model card from a results JSON",
        description="Write a Hub model card (ModelCard with model-index eval results) from a results JSON: "
        '{"results": {DATASET: {METRIC: VALUE}}, "description": ..., "datasets": [...], "checkpoint": DIR}.',
    )
    cards.add_argument("results", nargs="?", help="results JSON file (or use --from-records)")
    cards.add_argument(
        "--from-records", metavar="RECORDS.jsonl",
        help="per-dataset records of benchmarks/ate_benchmark.py --records: per-suite MAE / coverage of --method",
    )
    cards.add_argument("--method", default="cina_zs", help="method whose records fill the card (default cina_zs)")
    cards.add_argument("--checkpoint", help="checkpoint folder whose config the card describes (else the JSON's)")
    cards.add_argument("--repo-id", help="Hub id named in the card's usage snippet")
    cards.add_argument("-o", "--output", default="-", help="card path (default: print to stdout)")
    cards.set_defaults(func=_cards)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hf-causal`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except (ValueError, TypeError, OSError, ImportError, KeyError, CommandError) as err:
        message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        print(f"hf-causal {args.command}: error: {message}", file=sys.stderr)
        return EXIT_FAILURE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
