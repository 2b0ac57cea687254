"""The autoregressive engine as a text-benchmark estimator: cross-fitted nuisances from LoRA fits, the text a
context variable, and the tabular engine on the true confounder as its oracle (docs/design.md §9.8).

Each fold's engine is trained on the other folds' rows and predicts, exactly from its next-token probabilities,
``P(T=1 | text)``, ``E[Y | do(T=0), text]`` and ``E[Y | do(T=1), text]`` for the held-out rows; the plug-in
``mean_(T=1)(Q1 - Q0)`` and the ATT-AIPW score then come from :func:`hf_causal.core.aipw.att_estimates`, as for
CausalBERT. The variants are the ablation of what helps the engine read the text: the text-summary head
(:class:`hf_causal.engine.modeling_causal_ar.TextSummaryHead`), a bidirectional text block, more epochs, and
the decoder backbone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from hf_causal.core.folds import arm_stratified_folds

__all__ = ["ENGINE_VARIANTS", "EngineRecipe", "EngineVariant", "engine_xfit_att", "oracle_engine_att", "stratified_folds"]


@dataclass(frozen=True)
class EngineVariant:
    """One engine row of the benchmark: backbone alias, bidirectional text block, text-summary head width
    (0: none) and how many times the recipe's epochs it trains."""

    backbone: str
    bidirectional: bool = False
    summary_size: int = 0
    epoch_factor: float = 1.0


ENGINE_VARIANTS = {
    "minilm": EngineVariant("minilm"),
    "minilm-summary": EngineVariant("minilm", summary_size=128),
    "minilm-long": EngineVariant("minilm", epoch_factor=3.0),
    "minilm-prefix": EngineVariant("minilm", bidirectional=True),
    "smollm2": EngineVariant("smollm2", epoch_factor=0.5),
    "smollm2-summary": EngineVariant("smollm2", summary_size=128, epoch_factor=0.5),
}


@dataclass(frozen=True)
class EngineRecipe:
    """Training settings shared by every variant (LoRA r 16, alpha 32 on all linear layers)."""

    epochs: float = 4.0
    learning_rate: float = 1e-3
    batch_size: int = 32
    n_bins: int = 32
    max_text_length: int = 64
    threads: int = 1
    n_folds: int = 2


TEXT_GRAPH_EDGES = [("text", "T"), ("text", "Y"), ("T", "Y")]


def stratified_folds(t: np.ndarray, n_folds: int, seed: int) -> np.ndarray:
    """Fold index per unit, each arm spread evenly over the folds (seeded)."""
    if n_folds < 2 or min(int(t.sum()), int(len(t) - t.sum())) < n_folds:
        raise ValueError(f"{n_folds}-fold cross-fitting needs at least {n_folds} units in each arm")
    return arm_stratified_folds(t, n_folds, seed)


def fit_engine(frame: pd.DataFrame, variant: str, seed: int, recipe: EngineRecipe) -> Any:
    """A LoRA engine on ``frame`` (columns text, T, Y), the text a context variable; the text-summary head is
    added between building and training, the one step ``CausalEngine.train`` has no setting for."""
    from hf_causal.engine import CausalEngine, CausalGraph
    from hf_causal.engine.sampling import torch_threads
    from hf_causal.engine.training import build_tokenizer_and_model, train_causal_model
    from hf_causal.engine.training_args import EngineTrainingArguments

    spec = ENGINE_VARIANTS[variant]
    graph = CausalGraph({"text": "text", "T": "binary", "Y": "continuous"}, TEXT_GRAPH_EDGES)
    per_epoch = int(np.ceil(0.9 * len(frame) / recipe.batch_size))  # 10% of the rows are held out for validation
    args = EngineTrainingArguments(
        backbone=spec.backbone, lora={"r": 16, "lora_alpha": 32}, context_variables=["text"],
        bidirectional_context=spec.bidirectional, max_text_length=recipe.max_text_length, n_bins=recipe.n_bins,
        max_steps=max(1, round(recipe.epochs * spec.epoch_factor * per_epoch)), batch_size=recipe.batch_size,
        learning_rate=recipe.learning_rate, val_fraction=0.1, progress=False, num_threads=recipe.threads, seed=seed,
    )
    torch.manual_seed(seed)
    tokenizer, model = build_tokenizer_and_model(frame, graph, args)
    if spec.summary_size:
        model.add_text_summary_head(tokenizer.backbone_vocab_size, spec.summary_size)
    with torch_threads(recipe.threads):
        summary = train_causal_model(model, tokenizer, frame, args)
    return CausalEngine(model.eval(), tokenizer, seed=seed, batch_size=256, num_threads=recipe.threads,
                        context_variables=("text",), training_summary=summary)


def _nuisances(engine: Any, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    given = {"text": pd.Series(texts)}
    e = engine.predict_proba("T", given=given)[1].to_numpy()
    return e, engine.predict_mean("Y", given=given, do={"T": 0}), engine.predict_mean("Y", given=given, do={"T": 1})


def engine_xfit_att(
    texts: list[str], t: np.ndarray, y: np.ndarray, variant: str, seed: int, recipe: EngineRecipe,
    confounder: np.ndarray | None = None,
) -> dict[str, float]:
    """Cross-fitted plug-in and AIPW ATT of one engine variant; with ``confounder``, also how far its control
    outcome model separates the two confounder levels (``m0_separation``, the truth being beta1 * 0.2)."""
    from hf_causal.core.aipw import att_estimates

    fold = stratified_folds(t, recipe.n_folds, seed)
    e, m0, m1 = (np.empty(len(t)) for _ in range(3))
    frame = pd.DataFrame({"text": texts, "T": t.astype(int), "Y": y})
    for k in range(recipe.n_folds):
        train, test = np.flatnonzero(fold != k), np.flatnonzero(fold == k)
        engine = fit_engine(frame.iloc[train].reset_index(drop=True), variant, seed + 1000 * k, recipe)
        e[test], m0[test], m1[test] = _nuisances(engine, [texts[i] for i in test])
    est = att_estimates(t, y, e, m0, m1, n_folds=recipe.n_folds, method=f"engine_{variant}")
    out = {f"engine_{variant}_plugin": est["plugin"].value, f"engine_{variant}_aipw": est["aipw"].value}
    if confounder is not None:
        out["m0_separation"] = float(m0[confounder == 1].mean() - m0[confounder == 0].mean())
    return out


def oracle_engine_att(confounder: np.ndarray, t: np.ndarray, y: np.ndarray, seed: int, recipe: EngineRecipe) -> float:
    """The engine's AIPW ATT on the true confounder: a small GPT-2 trained from scratch on the table (C, T, Y),
    graph C -> T, C -> Y, T -> Y, cross-fitted like the text rows."""
    from hf_causal.core.aipw import att_estimates
    from hf_causal.engine import CausalEngine, CausalGraph

    graph = CausalGraph({"C": "binary", "T": "binary", "Y": "continuous"}, [("C", "T"), ("C", "Y"), ("T", "Y")])
    frame = pd.DataFrame({"C": confounder.astype(int), "T": t.astype(int), "Y": y})
    fold = stratified_folds(t, recipe.n_folds, seed)
    e, m0, m1 = (np.empty(len(t)) for _ in range(3))
    for k in range(recipe.n_folds):
        train, test = np.flatnonzero(fold != k), np.flatnonzero(fold == k)
        engine = CausalEngine.train(frame.iloc[train].reset_index(drop=True), graph, seed=seed + 1000 * k,
                                    n_bins=recipe.n_bins, progress=False, num_threads=recipe.threads)
        given = {"C": frame["C"].iloc[test].reset_index(drop=True)}
        e[test] = engine.predict_proba("T", given=given)[1].to_numpy()
        m0[test] = engine.predict_mean("Y", given=given, do={"T": 0})
        m1[test] = engine.predict_mean("Y", given=given, do={"T": 1})
    return att_estimates(t, y, e, m0, m1, n_folds=recipe.n_folds)["aipw"].value
