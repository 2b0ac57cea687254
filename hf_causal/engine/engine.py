"""``CausalEngine``: graph + tokenizer + autoregressive model, answering interventional queries.

Identification is by the graph: the model learns the observational factorisation
``p(x) = prod_i p(x_i | x_<i)`` along a topological order, and ``do(A=a)`` is answered by ancestral
sampling with ``A``'s tokens clamped (the truncated factorisation; docs/design.md §7).

The engine's jobs live in their own modules: training (:mod:`.training`, :class:`EngineTrainingArguments`),
saving and loading (:mod:`.serialization`), query planning (:mod:`.planning`) and sampling (:mod:`.sampling`).
This class validates each query once and combines them into effects.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..core.options import check_seed
from .adapters import is_peft_model, merged_backbone
from .effects import EffectQueries, check_n
from .exact import (
    DEFAULT_MAX_SUPPORT,
    TABLE_STREAM,
    TABULATE_ALWAYS,
    ConditionalTables,
    conditional_tables,
    tabulation_size,
)
from .graph import CausalGraph
from .interventional import InterventionalDistribution
from .modeling_causal_ar import CausalARModel
from .planning import Query, QueryPlanner
from .sampling import (
    decode_samples,
    next_value_probabilities,
    repeat_rows,
    sample_arms,
    sample_tokens,
    torch_threads,
)
from .serialization import EngineSettings, load_engine, save_engine
from .tokenization_causal import CausalSequenceTokenizer
from .tokenization_causal_backbone import BackboneCausalTokenizer
from .training import (
    build_tokenizer_and_model,
    check_context_variables,
    check_prefix_order,
    train_causal_model,
)
from .training_args import EngineTrainingArguments


class CausalEngine(EffectQueries):
    """The user object tying a :class:`CausalGraph`, a :class:`CausalSequenceTokenizer` and a
    :class:`~hf_causal.engine.modeling_causal_ar.CausalARModel`.

    Build one with :meth:`train` (from a DataFrame and a graph) or :meth:`from_pretrained`.

    Args:
        model: the trained autoregressive model.
        tokenizer: its tokenizer (carries the graph and the value codecs).
        seed: default seed of every query (queries are deterministic given the seed).
        batch_size: rows sampled per batch.
        progress: default for progress bars.
        num_threads: torch intra-op threads while sampling (``None``: torch's setting). Tiny models
            run fastest on one thread when the machine is shared.
        context_variables: variables trained as context only (see :meth:`train`): queries must give them.
        out_of_range: what a query does with a numeric ``do=`` / ``given=`` value outside the range seen in
            training, which the model can only clamp to the edge: ``"warn"`` (an ``OutOfRangeWarning``, the
            default), ``"raise"`` (a ``ValueError``) or ``"ignore"``.
    """

    def __init__(
        self,
        model: CausalARModel,
        tokenizer: CausalSequenceTokenizer,
        *,
        seed: int = 0,
        batch_size: int = 4096,
        progress: bool = False,
        num_threads: int | None = None,
        training_summary: dict[str, Any] | None = None,
        context_variables: Sequence[str] = (),
        out_of_range: str = "warn",
    ) -> None:
        if not isinstance(tokenizer, CausalSequenceTokenizer):
            raise TypeError("tokenizer must be a CausalSequenceTokenizer")
        if model.config.vocab_size != len(tokenizer):
            raise ValueError(f"model vocab ({model.config.vocab_size}) != tokenizer vocab ({len(tokenizer)})")
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.seed = check_seed(seed, optional=False)
        self.batch_size = int(batch_size)
        self.progress = bool(progress)
        self.num_threads = num_threads
        self.training_summary = training_summary or {}
        self.context_variables = tuple(context_variables)
        self.planner = QueryPlanner(tokenizer, self.context_variables, out_of_range)
        #: Queries whose free variables take at most this many configurations are answered exactly by
        #: enumeration when ``exact`` is left to the engine (docs/design.md §7.6).
        self.max_exact_support = DEFAULT_MAX_SUPPORT

    @property
    def out_of_range(self) -> str:
        """What a query does with a numeric value outside the training range: ``"warn"``, ``"raise"`` or
        ``"ignore"``; settable on a trained or loaded engine (``engine.out_of_range = "raise"``)."""
        return self.planner.out_of_range

    @out_of_range.setter
    def out_of_range(self, action: str) -> None:
        self.planner = QueryPlanner(self.tokenizer, self.context_variables, action)  # checks the action

    @property
    def graph(self) -> CausalGraph:
        """The causal graph (stored in the tokenizer)."""
        return self.tokenizer.graph

    def __repr__(self) -> str:
        n = sum(p.numel() for p in self.model.parameters())
        lora = ", lora" if self.is_lora else ""
        return f"CausalEngine({self.graph!r}, backbone={self.model.config.backbone_config['model_type']}{lora}, params={n:,})"

    @property
    def prefix_variables(self) -> tuple[str, ...]:
        """The context variables when the model attends to them bidirectionally (``bidirectional_context``)."""
        return self.context_variables if getattr(self.model.config, "bidirectional_context", False) else ()

    @property
    def is_lora(self) -> bool:
        """Whether the backbone carries (unmerged) LoRA adapters."""
        return is_peft_model(self.model.backbone)

    def merge_adapter(self) -> CausalEngine:
        """Fold the LoRA adapters and the trained new-token rows into the backbone's weights (same outputs,
        no adapter overhead); :meth:`save_pretrained` then writes the full model. Returns ``self``."""
        if not self.is_lora:
            raise ValueError("this engine has no LoRA adapters to merge")
        self.model.backbone = merged_backbone(self.model.backbone)
        self.model.eval()
        return self

    # ------------------------------------------------------------------------------- training
    @classmethod
    def train(
        cls,
        data: pd.DataFrame,
        graph: CausalGraph,
        args: EngineTrainingArguments | None = None,
        **settings: Any,
    ) -> CausalEngine:
        """Fit the tokenizer's codecs and train the autoregressive model on ``data``.

        Args:
            data: observational rows, one column per graph variable.
            graph: the causal DAG (assumed correct and causally sufficient).
            args: an :class:`EngineTrainingArguments`; keyword ``settings`` override its fields.
            **settings: any :class:`EngineTrainingArguments` field, e.g. ``seed=0``, ``backbone="smollm2"``,
                ``lora=True``, ``max_steps=600``, ``context_variables=["review"]``, ``output_dir=...``.

        Returns:
            The trained engine (written to ``output_dir`` too when one is given).
        """
        if not isinstance(data, pd.DataFrame):
            raise TypeError(f"data must be a pandas DataFrame, got {type(data).__name__}")
        if not isinstance(graph, CausalGraph):
            raise TypeError(f"graph must be a CausalGraph, got {type(graph).__name__}")
        unknown = sorted(set(settings) - set(EngineTrainingArguments.field_names()))
        if unknown:
            raise TypeError(f"CausalEngine.train got unknown settings {unknown}; see EngineTrainingArguments")
        args = EngineTrainingArguments(**settings) if args is None else dataclasses.replace(args, **settings)
        check_context_variables(graph, args.context_variables)
        if args.bidirectional_context:
            check_prefix_order(graph.topological_order, args.context_variables)  # before any backbone is loaded
        torch.manual_seed(args.seed)
        if args.resume_from_checkpoint is not None:
            model, tokenizer, _ = load_engine(str(args.resume_from_checkpoint), trainable=True)
            if tokenizer.graph != graph:
                raise ValueError("the checkpoint was trained on a different graph")
        else:
            tokenizer, model = build_tokenizer_and_model(data, graph, args)
        # a pretrained backbone's logits span its whole vocabulary: sample in smaller batches
        small_batches = args.pretrained or isinstance(tokenizer, BackboneCausalTokenizer)
        engine = cls(model, tokenizer, seed=args.seed, progress=args.progress, num_threads=args.num_threads,
                     batch_size=256 if small_batches else 4096, context_variables=args.context_variables)
        with torch_threads(args.num_threads):
            summary = train_causal_model(model, tokenizer, data, args, save_fn=engine.save_pretrained)
        engine.model = model.eval()
        engine.training_summary = {k: v for k, v in summary.items() if k != "history"}
        if args.output_dir is not None:
            engine.save_pretrained(args.output_dir)
        return engine

    # ------------------------------------------------------------------------- serialisation
    def save_pretrained(self, path: str | os.PathLike) -> None:
        """Write tokenizer, model and engine settings into ``path`` (see :mod:`hf_causal.engine.serialization`).

        With unmerged LoRA adapters only the adapter is written, not the backbone's weights; call
        :meth:`merge_adapter` first to export a standalone model.
        """
        settings = EngineSettings(self.seed, self.batch_size, self.context_variables, self.training_summary)
        save_engine(path, self.model, self.tokenizer, settings)

    @classmethod
    def from_pretrained(
        cls,
        path: str | os.PathLike,
        *,
        device: str | None = None,
        num_threads: int | None = None,
        backbone: str | os.PathLike | None = None,
        out_of_range: str = "warn",
        **kwargs: Any,
    ) -> CausalEngine:
        """Load an engine written by :meth:`save_pretrained` (a local folder or a Hub repo id).

        Args:
            device: move the model there (default: where it loads, the CPU).
            num_threads: torch intra-op threads for queries (``None``: torch's setting).
            backbone: for a LoRA engine, where the pretrained backbone now lives (default: the name or path
                recorded at training time, e.g. ``"smollm2"``).
            out_of_range: see the class (``"warn"``, ``"raise"`` or ``"ignore"``).
            kwargs: passed to ``from_pretrained`` (``revision``, ``cache_dir`` ...).
        """
        model, tokenizer, settings = load_engine(str(path), backbone=backbone, **kwargs)
        engine = cls(model, tokenizer, seed=settings.seed, batch_size=settings.batch_size,
                     training_summary=settings.training, context_variables=settings.context_variables,
                     num_threads=num_threads, out_of_range=out_of_range)
        if device is not None:
            engine.model = engine.model.to(device)
        return engine

    # ---------------------------------------------------------------------------- sampling core
    def _tables(self, plans: list, n: int) -> ConditionalTables | None:
        """The model's conditional tables for ``plans`` when drawing from them is cheaper than running the network
        per row (docs/design.md §7.4): every free variable one token, one clamp per variable, and at most
        ``max(n, TABULATE_ALWAYS)`` (and :attr:`max_exact_support`) sequences to score; else ``None``."""
        if self.prefix_variables:
            return None
        size = tabulation_size(self.tokenizer, plans)
        if size is None or size > min(self.max_exact_support, max(n, TABULATE_ALWAYS)):
            return None
        with torch_threads(self.num_threads):
            return conditional_tables(self.model, self.tokenizer, plans, batch_size=self.batch_size)

    def _sample_ids(
        self, n: int, plans: list, seed: int | None, progress: bool | None, tables: ConditionalTables | None = None,
        fixed: Mapping[str, np.ndarray] | None = None,
    ) -> dict[str, np.ndarray | list[list[int]]]:
        """Token ids of ``n`` draws following ``plans``: from the conditional tables when they apply (``tables``,
        or built here), else from the network's KV-cached sampler. ``fixed``: ids of free variables already drawn
        (tables only)."""
        seed = self.seed if seed is None else seed
        tables = tables if tables is not None else (None if fixed else self._tables(plans, n))
        if tables is not None:
            drawn = tables.sample(n, np.random.default_rng([seed, TABLE_STREAM]), fixed=fixed)
            return {p.name: drawn[p.name] if p.clamp is None else repeat_rows(np.asarray(p.clamp), n) for p in plans}
        with torch_threads(self.num_threads):
            return sample_tokens(
                self.model, self.tokenizer, plans, n, batch_size=self.batch_size, seed=seed,
                progress=self.progress if progress is None else progress, prefix_variables=self.prefix_variables,
            )

    def _sample_arm_ids(
        self, n: int, arms: list[list], shared: int, seeds: list[int], progress: bool | None
    ) -> list[dict[str, np.ndarray | list[list[int]]]]:
        """Token ids of ``n`` draws of each arm from the network's sampler, the first ``shared`` plans (the same in
        every arm) drawn once and shared (:func:`~hf_causal.engine.sampling.sample_arms`)."""
        with torch_threads(self.num_threads):
            return sample_arms(
                self.model, self.tokenizer, arms, shared, n, batch_size=self.batch_size, seeds=seeds,
                progress=self.progress if progress is None else progress, prefix_variables=self.prefix_variables,
            )

    def _sample_frame(
        self, query: Query, n: int, targets: Sequence[str], seed: int | None, progress: bool | None
    ) -> pd.DataFrame:
        """Draws of every variable up to the last of ``targets``, decoded (clamped binned values verbatim)."""
        plans = self.planner.plans(query, n, targets)
        ids = self._sample_ids(n, plans, seed, progress)
        rng = np.random.default_rng(self.seed if seed is None else seed)
        return decode_samples(self.tokenizer, ids, rng, exact=self.planner.verbatim_values(query, n))

    # -------------------------------------------------------------------------------- queries
    def sample(
        self,
        n: int,
        do: Mapping[str, Any] | None = None,
        given: Mapping[str, Any] | None = None,
        *,
        variables: Sequence[str] | None = None,
        seed: int | None = None,
        progress: bool | None = None,
    ) -> pd.DataFrame:
        """Draw ``n`` rows from ``p(. | do(...), given)`` in the original value space.

        Args:
            n: number of rows.
            do: interventions ``{variable: value}``. For a sequence variable, a dict
                ``{position: element}`` is a *partial* intervention: those positions are fixed and
                the other positions (and the length) are sampled.
            given: conditioning evidence ``{variable: value}``; per-row values as a pandas Series or
                numpy array of length ``n`` (a plain list also means per-row values, except for a
                sequence variable, whose single value is itself a list). Every ancestor (in the
                intervened graph) of a conditioned variable must be conditioned on or intervened on
                too; otherwise a ``ValueError`` says which (posterior inference is not supported).
            variables: the variables the caller needs; only they and their ancestors (in the
                intervened graph) are generated: sampling stops after the last of them in the order.
                Default: all variables.
            seed: overrides the engine's seed.
            progress: show a progress bar over batches.

        Returns:
            A DataFrame with one column per generated variable, in topological order.
        """
        n = check_n(n)
        seed = check_seed(seed)
        query = self.planner.query(do, given)
        targets = list(variables) if variables is not None else list(self.tokenizer.order)
        frame = self._sample_frame(query, n, targets, seed, progress)
        return frame[[c for c in frame.columns if variables is None or c in set(targets)]]

    def interventional_distribution(
        self,
        target: str,
        do: Mapping[str, Any] | None = None,
        given: Mapping[str, Any] | None = None,
        *,
        n: int = 10_000,
        seed: int | None = None,
    ) -> InterventionalDistribution:
        """Monte-Carlo draws of ``p(target | do(...), given)`` (``.mean()``, ``.probabilities()``, ``.plot()``)."""
        n = check_n(n)
        seed = check_seed(seed)
        query = self.planner.query(do, given)
        self.planner.check_names([target], "target")
        frame = self._sample_frame(query, n, [target], seed, None)
        cond = query.describe()
        return InterventionalDistribution(
            target, frame[target], discrete=self.tokenizer.codecs[target].discrete,
            query=f"{target} | {cond}" if cond else target,
        )

    def predict_proba(
        self, target: str, given: Mapping[str, Any] | None = None, do: Mapping[str, Any] | None = None
    ) -> pd.DataFrame:
        """Exact ``p(target | do(...), given)`` per row, from one forward pass (no Monte-Carlo error).

        Every variable before ``target`` in the topological order must be fixed by ``given`` (per-row
        values allowed, as in :meth:`sample`) or ``do``, and ``target`` must take one token (categorical,
        binary, or continuous with the quantile codec), e.g. a propensity ``p(A=1 | X)`` or an outcome
        model ``p(Y | do(A=a), X)``.

        Returns:
            One row per query row; columns are the categorical levels, or for a binned continuous
            variable the bins' mean training values (midpoints for codecs saved without them).
        """
        plans, n = self.planner.scoring_plans(self.planner.query(do, given), target)
        with torch_threads(self.num_threads):
            probs = next_value_probabilities(
                self.model, self.tokenizer, plans, target, n, batch_size=self.batch_size, progress=self.progress,
                prefix_variables=self.prefix_variables,
            )
        return pd.DataFrame(probs, columns=self.tokenizer.codecs[target].score_columns())

    def predict_mean(
        self, target: str, given: Mapping[str, Any] | None = None, do: Mapping[str, Any] | None = None
    ) -> np.ndarray:
        """Exact ``E[target | do(...), given]`` per row (see :meth:`predict_proba`; numeric targets only).

        For a binned continuous target each bin stands for its mean training value (docs/design.md §7.6).
        """
        self._numeric_outcome(target)
        probs = self.predict_proba(target, given=given, do=do)
        return probs.to_numpy() @ np.asarray(probs.columns, dtype=np.float64)



__all__ = ["CausalEngine"]
