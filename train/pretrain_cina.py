"""Pretrain zero-shot CInA on synthetic SCM corpora (self-supervised; optional supervised ATE loss).

Runs on CPU, one GPU, or many with ``accelerate launch``::

    python train/pretrain_cina.py --config train/configs/cina_zs_base.yaml --output-dir outputs/cina-zs-base
    accelerate launch train/pretrain_cina.py --config train/configs/cina_zs_base.yaml --output-dir ...
    python train/pretrain_cina.py --config ... --output-dir ... --resume          # continue the last checkpoint

Datasets are drawn on the fly from :mod:`hf_causal.data.families` (every process draws different
seeds); each step takes ``batch_size`` datasets, pads them and minimises the mean per-dataset
penalised hinge loss (docs/design.md §2 and §5), in the package's shared training loop
(:mod:`hf_causal.core.training`). ``supervised_weight > 0`` adds the paper's supervised variant: the
squared error of the model's effect estimate against the known ATE (in outcome-SD units).
``distill_weight > 0`` adds a distillation term: the binary cross-entropy between the predicted dual
variables and the exact SVM duals of the same dataset (libsvm on the implied kernel, computed on the fly;
:func:`hf_causal.cina.svm.svm_dual_coefficients`). It amortises the exact per-dataset optimum, which
the hinge loss alone reaches only slowly (a model trained without it stays near uniform weights).
Writes ``log.jsonl`` (loss, validation MAE), ``checkpoint-*/`` (accelerate state) and ``final/``.
"""

from __future__ import annotations

import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch
from accelerate.utils import set_seed

from hf_causal.cina import CInAConfig, CInAModel
from hf_causal.cina.calibration import calibration_features, estimand_weights, standardize_columns
from hf_causal.cina.collate import pad_datasets
from hf_causal.cina.svm import implied_kernel, normalize_weights_np, svm_dual_coefficients
from hf_causal.core.run_config import (
    limit_threads,
    load_run_config,
    loop_arguments,
    newest_checkpoint,
    run_parser,
)
from hf_causal.core.training import TrainingLoop
from hf_causal.data.families import random_config, sample_family
from hf_causal.data.scm import generate_dataset

DEFAULTS: dict[str, Any] = {
    "model": {},
    "data": {"family": "train", "validation_family": "validation", "n_validation": 48, "max_units": 3000, "seed": 0},
    "train": {
        "batch_size": 8,
        "gradient_accumulation_steps": 1,
        "learning_rate": 1e-3,
        "weight_decay": 0.01,
        "warmup_steps": 100,
        "max_steps": 2000,
        "eval_every": 200,
        "save_every": 500,
        "supervised_weight": 0.0,
        "distill_weight": 0.0,
        "distill_workers": 1,
        "mixed_precision": "auto",
        "max_grad_norm": 1.0,
    },
}


class DatasetStream:
    """Endless stream of synthetic datasets for one process (seeds disjoint across processes)."""

    def __init__(self, family: str, seed: int, process_index: int, max_units: int) -> None:
        self.rng = np.random.default_rng([seed, process_index, 7919])
        self.family = family
        self.max_units = max_units

    def draw(self, count: int):
        out = []
        while len(out) < count:
            config = random_config(self.family, self.rng)
            if config.n_units > self.max_units:
                config.n_units = int(self.max_units)
            out.append(generate_dataset(config, int(self.rng.integers(2**62))))
        return out


def batch_from(datasets, device: torch.device) -> dict[str, torch.Tensor]:
    batch = pad_datasets([d.X for d in datasets], [d.T for d in datasets], [d.Y for d in datasets])
    batch["true_ate"] = torch.tensor([d.ate for d in datasets], dtype=torch.float32)
    batch["outcome_sd"] = torch.tensor([max(float(np.std(d.Y)), 1e-6) for d in datasets], dtype=torch.float32)
    return {k: v.to(device) for k, v in batch.items()}


@torch.no_grad()
def exact_duals(model: CInAModel, batch: dict[str, torch.Tensor], workers: int = 1) -> torch.Tensor:
    """``(B, N)`` exact SVM duals of each padded dataset on the kernel the model's balancing layer uses.

    ``workers > 1`` solves the datasets in a thread pool (libsvm releases the GIL): on a GPU the solves, not
    the model, set the pace of a distillation step."""
    x_std, _, unit_mask, n_features = model.prepare_inputs(
        batch["covariates"], batch["treatment"], batch["attention_mask"], batch.get("feature_mask"),
        model.config.covariate_clip,
    )
    temperature = float(model.balancing_temperature())
    masks = unit_mask.cpu().numpy()
    xs_all = x_std.double().cpu().numpy()
    t_all = batch["treatment"].cpu().numpy()

    def solve(b: int) -> np.ndarray:
        keep = masks[b]
        xs = xs_all[b][keep]
        scores = temperature * (xs @ xs.T) / float(n_features[b])
        lam = float(model.config.lambda0) / keep.sum() ** 2
        return svm_dual_coefficients(implied_kernel(scores), t_all[b][keep], lam, tol=1e-6)

    if workers > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            solved = list(pool.map(solve, range(len(masks))))
    else:
        solved = [solve(b) for b in range(len(masks))]
    targets = torch.zeros(unit_mask.shape, dtype=torch.float32)
    for b, dual in enumerate(solved):
        targets[b, torch.from_numpy(masks[b])] = torch.from_numpy(dual).float()
    return targets.to(batch["covariates"].device)


def distillation_loss(dual: torch.Tensor, targets: torch.Tensor, unit_mask: torch.Tensor) -> torch.Tensor:
    """Mean over real units of the binary cross-entropy between predicted and exact dual variables."""
    per_unit = torch.nn.functional.binary_cross_entropy(
        dual.float().clamp(1e-6, 1 - 1e-6), targets, reduction="none"
    )
    mask = unit_mask.float()
    return ((per_unit * mask).sum(-1) / mask.sum(-1)).mean()


def _ate(weights: np.ndarray, d) -> float:  # noqa: ANN001 - a SyntheticDataset
    # the same calibration as CInAModel.estimate's default (means and squares)
    cal, _ = estimand_weights(calibration_features(standardize_columns(d.X)), d.T, weights, "ate")
    return float(np.sum(cal * (2 * d.T - 1) * d.Y))


@torch.no_grad()
def evaluate(model: CInAModel, datasets, device: torch.device, exact: list[np.ndarray]) -> dict[str, float]:
    """Validation: loss, zero-shot ATE MAE (calibrated, raw), naive MAE, and distance to the exact solver."""
    model.eval()
    errors, raw_errors, naive, losses, l1 = [], [], [], [], []
    for d, a_exact in zip(datasets, exact, strict=True):
        batch = pad_datasets([d.X], [d.T], [d.Y])
        out = model(**{k: v.to(device) for k, v in batch.items()})
        w = out.weights[0].double().cpu().numpy()
        errors.append(abs(_ate(w, d) - d.ate))
        raw_errors.append(abs(float(np.sum(w * (2 * d.T - 1) * d.Y)) - d.ate))
        naive.append(abs(d.Y[d.T == 1].mean() - d.Y[d.T == 0].mean() - d.ate))
        losses.append(float(out.loss))
        l1.append(float(np.abs(w - normalize_weights_np(a_exact, d.T)).sum()))
    model.train()
    return {
        "val_loss": float(np.mean(losses)),
        "val_ate_mae": float(np.mean(errors)),
        "val_overlap_mae": float(np.mean(raw_errors)),
        "val_naive_mae": float(np.mean(naive)),
        "val_l1_to_exact": float(np.mean(l1)),  # normalised-weight L1 to the exact SVM weights (max 4)
    }


def main(argv: list[str] | None = None) -> int:
    args = run_parser(__doc__, "train/configs/").parse_args(argv)
    limit_threads(args.threads)
    cfg = load_run_config(DEFAULTS, args.config, args.set)
    tcfg, dcfg = cfg["train"], cfg["data"]
    out_dir = Path(args.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    set_seed(int(dcfg["seed"]))
    model = CInAModel(CInAConfig(**cfg["model"]))
    loop = TrainingLoop(
        model,
        loop_arguments(tcfg, out_dir, progress=not args.no_progress, description="pretrain CInA"),
    )
    accelerator = loop.accelerator
    if args.resume:
        checkpoint = newest_checkpoint(out_dir)
        accelerator.print(f"resumed from {checkpoint} at step {loop.resume(checkpoint)}")

    stream = DatasetStream(dcfg["family"], int(dcfg["seed"]) + loop.step, accelerator.process_index, int(dcfg["max_units"]))
    validation = list(sample_family(dcfg["validation_family"], int(dcfg["n_validation"]), seed=int(dcfg["seed"])))
    plain = loop.unwrapped_model()
    exact_validation = [exact_duals(plain, pad_datasets([d.X], [d.T], [d.Y]))[0].numpy() for d in validation]
    exact_record = {  # the exact solver's accuracy: the ceiling distillation aims at
        "exact_val_ate_mae": float(np.mean([abs(_ate(normalize_weights_np(a, d.T), d) - d.ate)
                                            for a, d in zip(exact_validation, validation, strict=True)])),
    }
    accelerator.print(json.dumps(exact_record))
    log_path = out_dir / "log.jsonl"
    (out_dir / "train_config.json").write_text(json.dumps(cfg, indent=2))
    supervised = float(tcfg["supervised_weight"])
    distill = float(tcfg["distill_weight"])

    def batches(acc: Any, start: int):
        while True:
            yield batch_from(stream.draw(int(tcfg["batch_size"])), acc.device)

    def loss_fn(m: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        batch = dict(batch)
        true_ate, outcome_sd = batch.pop("true_ate"), batch.pop("outcome_sd")
        out = m(**batch)
        loss = out.loss
        if distill > 0:
            targets = exact_duals(loop.unwrapped_model(), batch, int(tcfg["distill_workers"]))
            loss = loss + distill * distillation_loss(out.dual, targets, batch["attention_mask"].bool())
        if supervised > 0:
            loss = loss + supervised * (((out.effect.float() - true_ate) / outcome_sd) ** 2).mean()
        return loss

    def log(record: dict[str, Any]) -> None:
        if "val_loss" in record:
            record.update(exact_record)
            accelerator.print(json.dumps(record))
        if accelerator.is_main_process:
            with log_path.open("a") as fh:
                fh.write(json.dumps(record) + "\n")

    def save_pretrained(folder: str) -> None:  # a from_pretrained-ready snapshot next to the training state
        loop.unwrapped_model().save_pretrained(str(Path(folder) / "pretrained"))

    started = time.time()
    loop.run(
        batches,
        loss_fn,
        evaluate=lambda m: evaluate(loop.unwrapped_model(), validation, accelerator.device, exact_validation),
        on_step=log,
        save_fn=save_pretrained,
    )
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        loop.unwrapped_model().save_pretrained(str(out_dir / "final"))
        accelerator.print(f"saved {out_dir / 'final'} after {loop.step} steps in {time.time() - started:.0f}s")
    return 0

if __name__ == "__main__":
    sys.exit(main())
