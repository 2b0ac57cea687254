"""Pretrain CInA's in-context outcome network on the wide synthetic prior (docs/design.md §4.8 and §5.5).

Runs on CPU, one GPU, or many with ``accelerate launch``::

    python train/pretrain_outcome.py --config train/configs/cina_outcome_base.yaml --output-dir outputs/outcome
    python train/pretrain_outcome.py --config ... --output-dir outputs/outcome --resume   # continue the last checkpoint

``train/configs/cina_outcome_wide.yaml`` fine-tunes the bundled network (``init_outcome_network: true``) on a
mixture of that prior and a wider one. The balancing part of the model comes from ``init_from`` (default: the
bundled ``cina-zs-base``) and stays frozen,
so the finished checkpoint has the same balancing weights with an outcome network added: one ``from_pretrained``
loads both, and the ablation of the outcome model compares like with like.

Each step draws ``batch_size`` datasets from ``data.family`` (``outcome_train``; a list of families is a mixture,
slot ``k`` of a batch drawn from the ``k``-th modulo its length), subsamples them to at most
``max_units`` rows, hides the treatment and outcome of some rows (new rows, as ``cate(X_new=...)`` sees them),
fits the kernel outcome model on the context rows and trains the network to predict the *true* surfaces
``mu0`` and ``mu1`` of every row with calibrated spreads (:func:`hf_causal.cina.outcome_network.outcome_loss`).
Datasets are a function of ``(seed, process, step, slot)``, so ``--resume`` continues the data stream exactly
where it stopped; ``data.workers`` processes make them ahead of the step (:mod:`hf_causal.core.prefetch`; the same
stream, for a GPU that would otherwise wait on the CPU). The shared training loop (:mod:`hf_causal.core.training`)
checkpoints model, optimiser, scheduler and RNG state into ``checkpoint-<step>/`` with a loadable model in
``checkpoint-<step>/pretrained``; ``log.jsonl`` holds every step's loss and the validation curve (PEHE and effect errors of the network against
the kernel model it starts from, interval coverage), and ``final/`` the finished model.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from accelerate.utils import set_seed

from hf_causal.cina import CInAConfig, CInAModel
from hf_causal.cina.collate import pad_outcome_contexts
from hf_causal.cina.outcome_features import N_UNIT_FEATURES, outcome_context
from hf_causal.cina.outcome_network import outcome_loss
from hf_causal.core.prefetch import Prefetcher
from hf_causal.core.run_config import (
    limit_threads,
    load_run_config,
    loop_arguments,
    newest_checkpoint,
    run_parser,
)
from hf_causal.core.training import TrainingLoop
from hf_causal.data.families import random_config, sample_family
from hf_causal.data.scm import SyntheticDataset, generate_dataset

DEFAULTS: dict[str, Any] = {
    "init_from": "cina-zs-base",
    "init_outcome_network": False,
    "model": {"outcome_hidden_size": 64, "outcome_num_layers": 2, "outcome_intermediate_size": 128},
    "data": {
        "family": "outcome_train",
        "validation_family": "outcome_validation",
        "n_validation": 64,
        "max_units": 1000,
        "new_row_probability": 0.3,
        "seed": 0,
        "workers": 0,
    },
    "train": {
        "batch_size": 8,
        "gradient_accumulation_steps": 1,
        "learning_rate": 1e-3,
        "weight_decay": 0.01,
        "warmup_steps": 200,
        "max_steps": 20000,
        "eval_every": 500,
        "save_every": 500,
        "mixed_precision": "auto",
        "max_grad_norm": 1.0,
        "spike_mads": None,
    },
}


def subsample(d: SyntheticDataset, max_units: int, rng: np.random.Generator) -> SyntheticDataset:
    """At most ``max_units`` rows of ``d`` (a uniform sample), keeping at least 3 units per arm when it has them."""
    if d.n_units <= max_units:
        return d
    keep = np.sort(rng.choice(d.n_units, size=max_units, replace=False))
    return SyntheticDataset(d.X[keep], d.feature_names, d.T[keep], d.Y[keep], d.mu0[keep], d.mu1[keep],
                            d.propensity[keep], d.graph, d.params)


def training_example(d: SyntheticDataset, rng: np.random.Generator, new_row_probability: float) -> dict[str, Any] | None:
    """The context, new rows and truths of one dataset, or ``None`` when an arm has fewer than 3 context units."""
    n = d.n_units
    is_new = np.zeros(n, dtype=bool)
    if rng.random() < new_row_probability and n >= 40:
        is_new[rng.choice(n, size=int(rng.uniform(0.1, 0.3) * n), replace=False)] = True
    ctx = ~is_new
    if min(int(d.T[ctx].sum()), int((1 - d.T[ctx]).sum())) < 3:
        return None
    order = np.concatenate([np.flatnonzero(ctx), np.flatnonzero(is_new)])  # context rows first
    context = outcome_context(d.X[ctx], d.T[ctx], d.Y[ctx], x_new=d.X[is_new] if is_new.any() else None)
    return {"context": context, "mu0": d.mu0[order], "mu1": d.mu1[order]}


class DatasetStream:
    """Batches of training examples as a function of ``(seed, process, step)``: a resumed run continues the
    stream exactly where it stopped."""

    def __init__(self, family: str | list[str], seed: int, process_index: int, max_units: int,
                 new_row_probability: float) -> None:
        # a list of families is a mixture: slot k of a batch draws from families[k % len(families)]
        self.families = [family] if isinstance(family, str) else list(family)
        if not self.families:
            raise ValueError("data.family must name at least one family")
        self.seed, self.process = int(seed), int(process_index)
        self.max_units, self.new_row_probability = int(max_units), float(new_row_probability)

    def batch(self, step: int, size: int) -> list[dict[str, Any]]:
        rng = np.random.default_rng([self.seed, self.process, int(step), 1009])
        out: list[dict[str, Any]] = []
        while len(out) < size:
            config = random_config(self.families[len(out) % len(self.families)], rng)
            config.n_units = min(config.n_units, 4 * self.max_units)  # larger draws are subsampled anyway
            example = training_example(
                subsample(generate_dataset(config, int(rng.integers(2**62))), self.max_units, rng),
                rng,
                self.new_row_probability,
            )
            if example is not None:
                out.append(example)
        return out


def to_batch(examples: list[dict[str, Any]], device: torch.device) -> dict[str, torch.Tensor]:
    batch = pad_outcome_contexts([e["context"] for e in examples], [e["mu0"] for e in examples],
                                 [e["mu1"] for e in examples])
    return {k: v.to(device) for k, v in batch.items()}


def loss_of(network: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    inputs = {k: v for k, v in batch.items() if not k.startswith("true_")}
    out = network(**inputs)
    return outcome_loss(out, batch["true_mu0"], batch["true_mu1"], batch["unit_mask"]).mean()


@torch.no_grad()
def evaluate(network: torch.nn.Module, examples: list[dict[str, Any]], device: torch.device) -> dict[str, float]:
    """Validation: loss; sqrt-PEHE and plug-in ATE error of the network and of the kernel model it corrects (in
    outcome SDs, mean over datasets); coverage of the network's 95% intervals of the effect."""
    was_training = network.training
    network.eval()
    rows: dict[str, list[float]] = {k: [] for k in ("val_loss", "pehe", "pehe_kernel", "ate_error",
                                                     "ate_error_kernel", "effect_coverage")}
    for start in range(0, len(examples), 8):
        part = examples[start: start + 8]
        batch = to_batch(part, device)
        inputs = {k: v for k, v in batch.items() if not k.startswith("true_")}
        out = network(**inputs, landmark_units=0)
        losses = outcome_loss(out, batch["true_mu0"], batch["true_mu1"], batch["unit_mask"])
        for b, loss in enumerate(losses.tolist()):
            mask = batch["unit_mask"][b]
            truth = (batch["true_mu1"][b] - batch["true_mu0"][b])[mask]
            net = (out.mu1[b] - out.mu0[b])[mask]
            kernel = (batch["kernel_mu"][b, :, 1] - batch["kernel_mu"][b, :, 0])[mask]
            sd = torch.sqrt(torch.exp(2 * out.log_sd0[b]) + torch.exp(2 * out.log_sd1[b]))[mask]
            rows["val_loss"].append(loss)
            rows["pehe"].append(float(((net - truth) ** 2).mean().sqrt()))
            rows["pehe_kernel"].append(float(((kernel - truth) ** 2).mean().sqrt()))
            rows["ate_error"].append(float((net.mean() - truth.mean()).abs()))
            rows["ate_error_kernel"].append(float((kernel.mean() - truth.mean()).abs()))
            rows["effect_coverage"].append(float(((net - truth).abs() <= 1.96 * sd).float().mean()))
    network.train(was_training)
    return {k: float(np.mean(v)) for k, v in rows.items()}


def evaluate_all(network: torch.nn.Module, validation: dict[str, list[dict[str, Any]]],
                 device: torch.device) -> dict[str, float]:
    """:func:`evaluate` on every validation family: the first's keys plain, the others' suffixed ``[family]``."""
    out: dict[str, float] = {}
    for k, (name, examples) in enumerate(validation.items()):
        for key, value in evaluate(network, examples, device).items():
            out[key if k == 0 else f"{key}[{name}]"] = value
    return out


#: Inference limits that describe the prior the checkpoint's network was trained on (docs/design.md §4.8): a network
#: trained or fine-tuned here sees another prior, so it starts without them (its own are measured and tested anew).
PRIOR_BOUND_OFF = {"outcome_spread_limit": None, "outcome_row_limit": None}


def build_model(cfg: dict[str, Any]) -> CInAModel:
    """The balancing model of ``init_from`` with an untrained outcome network of ``cfg["model"]``; with
    ``init_outcome_network: true``, ``init_from``'s own outcome network instead (fine-tuning it), grown by
    identity layers when ``cfg["model"]`` asks for more layers than it has (:func:`grow_outcome_layers`)."""
    if cfg.get("init_outcome_network"):
        if not cfg.get("init_from"):
            raise ValueError("init_outcome_network: true needs init_from (the checkpoint whose network to fine-tune)")
        base = CInAModel.from_pretrained(cfg["init_from"])
        if base.outcome_network is None:
            raise ValueError(f"{cfg['init_from']} has no outcome network to fine-tune")
        layers = int(cfg["model"].get("outcome_num_layers", base.config.outcome_num_layers))
        for key, value in cfg["model"].items():  # the network's shape is the checkpoint's, but for its depth
            if not hasattr(base.config, key):
                raise ValueError(f"model.{key} is not a setting of CInAConfig")
            if key != "outcome_num_layers" and getattr(base.config, key) != value:
                raise ValueError(f"init_outcome_network fine-tunes {cfg['init_from']}'s network, whose {key} is "
                                 f"{getattr(base.config, key)!r}, not {value!r}")
        if layers < base.config.outcome_num_layers:
            raise ValueError(f"model.outcome_num_layers={layers} is fewer than the {base.config.outcome_num_layers} "
                             f"layers of {cfg['init_from']}'s network: a network can be grown, not cut")
        # the first network only: a checkpoint's wide-prior copy (docs/design.md §4.8) is not carried along
        model = CInAModel(CInAConfig.from_dict({**base.config.to_dict(), **PRIOR_BOUND_OFF,
                                                "outcome_wide_network": False, "outcome_num_layers": layers}))
        missing, _ = model.load_state_dict({k: v for k, v in base.state_dict().items()
                                            if not k.startswith("outcome_network_wide.")}, strict=False)
        grown = range(base.config.outcome_num_layers, layers)
        expected = {k for k in model.state_dict() if any(k.startswith(f"outcome_network.layers.{i}.") for i in grown)}
        if set(missing) != expected:
            raise ValueError(f"{cfg['init_from']} does not fit the configured model: missing {sorted(missing)}")
        grow_outcome_layers(model.outcome_network, grown)
        for name, p in model.named_parameters():
            p.requires_grad_(name.startswith("outcome_network."))
        return model
    base = CInAModel.from_pretrained(cfg["init_from"]) if cfg.get("init_from") else None
    settings = {**base.config.to_dict(), **PRIOR_BOUND_OFF} if base is not None else {}
    settings.update(cfg["model"], outcome_unit_features=N_UNIT_FEATURES, outcome_wide_network=False)
    model = CInAModel(CInAConfig.from_dict(settings))
    if base is not None:
        # the balancing part only: a checkpoint that already has outcome networks (the bundled one does)
        # starts a fresh network of the configured size
        balancing = {k: v for k, v in base.state_dict().items() if not k.startswith("outcome_network")}
        missing, unexpected = model.load_state_dict(balancing, strict=False)
        if unexpected or any(not k.startswith("outcome_network.") for k in missing):
            raise ValueError(f"{cfg['init_from']} does not fit the configured model: {unexpected or missing}")
    model.outcome_network.reset_head()
    for name, p in model.named_parameters():
        p.requires_grad_(name.startswith("outcome_network."))
    return model


def grow_outcome_layers(network: torch.nn.Module, layers: range) -> None:
    """Make ``network.layers[i]`` for ``i`` in ``layers`` identity maps at the start of training: their residual
    branches' output projections are zeroed, so the grown network predicts exactly what the trained one did and the
    new layers only add what the fine-tuning finds (docs/design.md §5.5)."""
    with torch.no_grad():
        for i in layers:
            layer = network.layers[i]
            for projection in (layer.merge, layer.ffn[-1]):
                projection.weight.zero_()
                projection.bias.zero_()


def main(argv: list[str] | None = None) -> int:
    args = run_parser(__doc__, "train/configs/cina_outcome_*.yaml").parse_args(argv)
    limit_threads(args.threads)
    cfg = load_run_config(DEFAULTS, args.config, args.set)
    tcfg, dcfg = cfg["train"], cfg["data"]
    out_dir = Path(args.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    set_seed(int(dcfg["seed"]))
    model = build_model(cfg)
    network = model.outcome_network
    loop = TrainingLoop(
        network,
        loop_arguments(tcfg, out_dir, progress=not args.no_progress, description="pretrain outcome network", skip_nonfinite=True),
    )
    accelerator = loop.accelerator
    if args.resume:
        checkpoint = newest_checkpoint(out_dir)
        accelerator.print(f"resumed from {checkpoint} at step {loop.resume(checkpoint)}")
    stream = DatasetStream(dcfg["family"], int(dcfg["seed"]), accelerator.process_index, int(dcfg["max_units"]),
                           float(dcfg["new_row_probability"]))
    rng = np.random.default_rng([int(dcfg["seed"]), 77])
    # several validation families: the first one's curve keeps the plain keys, the others' are suffixed [family]
    names = dcfg["validation_family"]
    validation: dict[str, list[dict[str, Any]]] = {}
    for name in [names] if isinstance(names, str) else names:
        validation[name] = []
        for d in sample_family(name, int(dcfg["n_validation"]), seed=int(dcfg["seed"])):
            example = training_example(subsample(d, int(dcfg["max_units"]), rng), rng,
                                       float(dcfg["new_row_probability"]))
            if example is not None:
                validation[name].append(example)
    (out_dir / "train_config.json").write_text(json.dumps(cfg, indent=2))
    log_path = out_dir / "log.jsonl"
    micro = int(tcfg["batch_size"])
    accumulation = int(tcfg["gradient_accumulation_steps"])

    def batches(acc: Any, start: int):
        # micro-batch i of the stream is step i // accumulation's (i % accumulation)-th; made ahead by the workers
        with Prefetcher(lambda i: stream.batch(i, micro), start * accumulation, int(dcfg["workers"])) as examples:
            for example in examples:
                yield to_batch(example, acc.device)

    def log(record: dict[str, Any]) -> None:
        if "val_loss" in record:
            accelerator.print(json.dumps(record))
        if accelerator.is_main_process:
            with log_path.open("a") as fh:
                fh.write(json.dumps(record) + "\n")

    def save_pretrained(folder: str) -> None:  # a from_pretrained-ready snapshot next to the training state
        model.save_pretrained(str(Path(folder) / "pretrained"))

    started = time.time()
    result = loop.run(
        batches,
        loss_of,
        evaluate=lambda net: evaluate_all(loop.unwrapped_model(), validation, accelerator.device),
        on_step=log,
        save_fn=save_pretrained,
    )
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        model.save_pretrained(str(out_dir / "final"))
        accelerator.print(f"saved {out_dir / 'final'} after {loop.step} steps in {time.time() - started:.0f}s; "
                          f"skipped {result.skipped_batches} non-finite and {result.spike_batches} spiking batches")
    return 0


if __name__ == "__main__":
    sys.exit(main())
