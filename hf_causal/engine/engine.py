"""``CausalEngine``: graph + tokenizer + autoregressive model, answering interventional queries.

Identification is by the graph: the model learns the observational factorisation
``p(x) = prod_i p(x_i | x_<i)`` along a topological order, and ``do(A=a)`` is answered by ancestral
sampling with ``A``'s tokens clamped (the truncated factorisation).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from .adapters import add_lora, is_peft_model, merged_backbone
from .codecs import CategoricalCodec, QuantileCodec, SequenceCodec
from .configuration_causal_ar import CausalARConfig
from .estimate import CausalEstimate, InterventionalDistribution
from .graph import CausalGraph
from .modeling_causal_ar import IGNORE_INDEX, CausalARModel
from .sampling import VariablePlan, decode_samples, next_value_probabilities, sample_tokens, torch_threads
from .tokenization_causal import CausalSequenceTokenizer
from .tokenization_causal_backbone import BackboneCausalTokenizer, load_backbone_tokenizer
from .training import EngineTrainingArguments, train_model

ENGINE_FILE = "engine_config.json"
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")
VOCABULARIES = ("auto", "backbone", "causal")
logger = logging.getLogger(__name__)


def _find_file(path: str, filename: str) -> bool:
    """Whether ``filename`` exists in a local folder or a Hub repo ``path``."""
    if os.path.isdir(path):
        return os.path.isfile(os.path.join(path, filename))
    from transformers.utils import cached_file

    try:
        return cached_file(path, filename, _raise_exceptions_for_missing_entries=False) is not None
    except (OSError, ValueError):
        return False


def _resolve_vocabulary(vocabulary: str, backbone: Any, backbone_tokenizer: Any) -> tuple[str, Any]:
    """``("backbone", tokenizer)`` or ``("causal", None)`` for :meth:`CausalEngine.train`."""
    if vocabulary not in VOCABULARIES:
        raise ValueError(f"vocabulary must be one of {VOCABULARIES}, got {vocabulary!r}")
    if not isinstance(backbone, (str, os.PathLike)):
        if vocabulary == "backbone" or backbone_tokenizer is not None:
            raise ValueError("vocabulary='backbone' and backbone_tokenizer= need a pretrained backbone (name or path)")
        return "causal", None
    if vocabulary == "causal":
        return "causal", None
    if backbone_tokenizer is not None:
        if isinstance(backbone_tokenizer, (str, os.PathLike)):
            backbone_tokenizer = load_backbone_tokenizer(backbone_tokenizer)
        return "backbone", backbone_tokenizer
    try:
        return "backbone", load_backbone_tokenizer(backbone)
    except ValueError:
        if vocabulary == "backbone":
            raise
        logger.warning("backbone %s has no tokenizer: using a new causal vocabulary (vocabulary='causal')", backbone)
        return "causal", None


class CausalEngine:
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
    ) -> None:
        if not isinstance(tokenizer, CausalSequenceTokenizer):
            raise TypeError("tokenizer must be a CausalSequenceTokenizer")
        if model.config.vocab_size != len(tokenizer):
            raise ValueError(f"model vocab ({model.config.vocab_size}) != tokenizer vocab ({len(tokenizer)})")
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.seed = int(seed)
        self.batch_size = int(batch_size)
        self.progress = bool(progress)
        self.num_threads = num_threads
        self.training_summary = training_summary or {}
        self.context_variables = tuple(context_variables)

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
        *,
        seed: int = 0,
        backbone: str | os.PathLike | Mapping[str, Any] | None = None,
        lora: Any = None,
        vocabulary: str = "auto",
        backbone_tokenizer: Any = None,
        max_text_length: int = 64,
        n_bins: int = 64,
        continuous_codec: str = "quantile",
        max_steps: int | None = None,
        batch_size: int = 256,
        learning_rate: float | None = None,
        val_fraction: float = 0.1,
        output_dir: str | os.PathLike | None = None,
        save_steps: int | None = None,
        resume_from_checkpoint: str | os.PathLike | None = None,
        device: str | None = None,
        progress: bool = True,
        num_threads: int | None = None,
        context_variables: Sequence[str] = (),
        bidirectional_context: bool = False,
        **training_kwargs: Any,
    ) -> CausalEngine:
        """Fit the tokenizer's codecs and train the autoregressive model on ``data``.

        Args:
            data: observational rows, one column per graph variable.
            graph: the causal DAG (assumed correct and causally sufficient).
            seed: seed of the split, initialisation, batching and of later queries.
            backbone: ``None`` (a small GPT-2 from scratch), a dict of backbone config kwargs with a
                ``model_type`` (e.g. ``{"model_type": "llama", "hidden_size": 128, ...}``), or a
                pretrained decoder: an alias (``"smollm2"``, ``"minilm"``: offline, from PyPI packages), a local
                folder or a Hub id. BERT-style encoders run as decoders (``is_decoder=True``).
            lora: with a pretrained backbone, ``True`` / a dict of ``peft.LoraConfig`` arguments / a
                ``LoraConfig`` trains LoRA adapters plus the new tokens' embedding rows (and modules the
                checkpoint lacks) instead of every weight; see :mod:`hf_causal.engine.adapters`.
            vocabulary: with a pretrained backbone, ``"backbone"`` keeps its tokenizer's vocabulary (text
                variables use its sub-word ids; ``<start_VAR>`` and value tokens are new special tokens
                appended to it, see :class:`BackboneCausalTokenizer`), ``"causal"`` replaces it by a new
                causal vocabulary (text as whitespace-split words), ``"auto"`` (default) is ``"backbone"``
                when the backbone ships a tokenizer.
            backbone_tokenizer: the backbone's tokenizer when it is not stored with the backbone (object or path).
            max_text_length: most backbone tokens per text value (longer texts are truncated).
            n_bins: quantile bins per continuous variable.
            continuous_codec: ``"quantile"`` or ``"digits"`` (see :mod:`hf_causal.engine.codecs`).
            max_steps, batch_size, val_fraction: see :class:`EngineTrainingArguments`.
            learning_rate: AdamW peak rate; default 2e-3 from scratch, 1e-3 with LoRA, 1e-4 when fully
                fine-tuning a pretrained backbone.
            output_dir, save_steps: write checkpoints ``output_dir/checkpoint-<step>`` (each a
                loadable engine plus optimiser state) every ``save_steps`` steps.
            resume_from_checkpoint: continue an interrupted run from one of those checkpoints.
            device: ``"cpu"``/``"cuda"``; default: accelerate's choice.
            progress: show progress bars.
            num_threads: torch intra-op threads for training and later queries (``None``: unchanged).
            context_variables: root variables that every query will give (``given=``), typically a text
                confounder: their tokens are context only, with no loss, so training spends its capacity on
                the mechanisms the queries need instead of on modelling the text itself. Such a variable
                can never be sampled: ``sample``/``ate`` refuse queries that would generate it, and
                :meth:`att` needs ``data=``.
            bidirectional_context: let the context variables' tokens attend to each other in both directions
                (a prefix LM; everything after them stays causal). Meant for BERT-style encoders, which were
                pretrained bidirectionally. On the text benchmark it helped the model separate the confounder
                but did not lower the ATT error (``benchmarks/results/text.md``). The context variables must come
                first in the topological order.
            **training_kwargs: other :class:`EngineTrainingArguments` fields.
        """
        if not isinstance(data, pd.DataFrame):
            raise TypeError(f"data must be a pandas DataFrame, got {type(data).__name__}")
        if not isinstance(graph, CausalGraph):
            raise TypeError(f"graph must be a CausalGraph, got {type(graph).__name__}")
        if not 0 <= val_fraction < 1:
            raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
        if backbone is not None and not isinstance(backbone, (str, os.PathLike, Mapping)):
            raise TypeError(f"backbone must be None, a config dict or a name/path, got {type(backbone).__name__}")
        pretrained = isinstance(backbone, (str, os.PathLike))
        if lora is not None and lora is not False and not pretrained:
            raise ValueError("lora= needs a pretrained backbone (an alias, a folder or a Hub id)")
        lora = None if lora is False else lora
        context_variables = _check_context_variables(graph, context_variables)
        if bidirectional_context:
            if not context_variables:
                raise ValueError("bidirectional_context=True needs context_variables (the block that attends both ways)")
            _check_prefix_order(graph.topological_order, context_variables)  # before any backbone is loaded
        torch.manual_seed(seed)
        if resume_from_checkpoint is not None:
            resumed = cls._load(str(resume_from_checkpoint), trainable=True)
            tokenizer, model = resumed.tokenizer, resumed.model
            if tokenizer.graph != graph:
                raise ValueError("the checkpoint was trained on a different graph")
        else:
            mode, backbone_tok = _resolve_vocabulary(vocabulary, backbone, backbone_tokenizer)
            if mode == "backbone":
                tokenizer = BackboneCausalTokenizer.from_data(
                    data, graph, backbone_tokenizer=backbone_tok, backbone_name_or_path=str(backbone),
                    max_text_length=max_text_length, n_bins=n_bins, continuous_codec=continuous_codec,
                )
            else:
                tokenizer = CausalSequenceTokenizer.from_data(
                    data, graph, n_bins=n_bins, continuous_codec=continuous_codec
                )
            config = CausalARConfig(
                backbone_config=dict(backbone) if isinstance(backbone, Mapping) else None,
                backbone_name_or_path=str(backbone) if pretrained else None,
                vocab_size=len(tokenizer),
                max_positions=tokenizer.max_sequence_length(),
                bos_token_id=tokenizer.bos_token_id,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=tokenizer.eos_token_id,
                bidirectional_context=bidirectional_context,
            )
            model = CausalARModel.from_backbone(config)
            _check_positions(model, tokenizer)
            if lora is not None:
                model.backbone = add_lora(
                    model.backbone, lora, tokenizer.new_token_ids(), getattr(model, "backbone_missing_keys", ())
                )
        if learning_rate is None:
            learning_rate = 2e-3 if not pretrained else (1e-3 if lora is not None else 1e-4)
        inputs = tokenizer.build_inputs(data)
        if context_variables:
            inputs["labels"][_positions_of(tokenizer, inputs["input_ids"], context_variables)] = IGNORE_INDEX
        if model.config.bidirectional_context:
            inputs["prefix_mask"] = _prefix_block(tokenizer, inputs["input_ids"], context_variables)
        n = len(data)
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
        n_val = int(round(val_fraction * n)) if n >= 20 else 0
        val = {k: v[perm[:n_val]] for k, v in inputs.items()} if n_val else None
        train_part = {k: v[perm[n_val:]] for k, v in inputs.items()}
        args = EngineTrainingArguments(
            max_steps=max_steps, batch_size=batch_size, learning_rate=learning_rate, val_fraction=val_fraction,
            output_dir=None if output_dir is None else str(output_dir), save_steps=save_steps, device=device,
            progress=progress, **training_kwargs,
        )
        # a pretrained backbone's logits span its whole vocabulary: sample in smaller batches
        engine = cls(model, tokenizer, seed=seed, progress=progress, num_threads=num_threads,
                     batch_size=256 if pretrained or isinstance(tokenizer, BackboneCausalTokenizer) else 4096,
                     context_variables=context_variables)
        with torch_threads(num_threads):
            summary = train_model(
                model, train_part, val, args, seed,
                save_fn=engine.save_pretrained,
                resume_from=None if resume_from_checkpoint is None else str(resume_from_checkpoint),
                loss_groups=tokenizer.loss_groups(),
            )
        engine.model = model.eval()
        engine.training_summary = {k: v for k, v in summary.items() if k != "history"}
        if output_dir is not None:
            engine.save_pretrained(output_dir)
        return engine

    # ------------------------------------------------------------------------- serialisation
    def save_pretrained(self, path: str | os.PathLike) -> None:
        """Write tokenizer, model and engine settings into ``path``.

        A full model is written as ``config.json`` + ``model.safetensors``. With unmerged LoRA adapters only
        ``config.json`` (which names the backbone), ``adapter_config.json`` and ``adapter_model.safetensors``
        (adapters, new-token rows, newly initialised modules) are written, not the backbone's weights;
        :meth:`from_pretrained` rebuilds the engine from the backbone plus the adapter (adapter files take
        precedence over a ``model.safetensors`` in the same folder, e.g. a training checkpoint's full state).
        Call :meth:`merge_adapter` first to export a standalone model.
        """
        path = str(path)
        os.makedirs(path, exist_ok=True)
        if self.is_lora:
            self.model.config.save_pretrained(path)
            had_readme = os.path.exists(os.path.join(path, "README.md"))
            # the new rows live in the adapter (trainable tokens): PEFT would otherwise store the whole resized
            # embedding matrix (28M parameters for SmolLM2), although its other rows are the backbone's own
            self.model.backbone.save_pretrained(path, save_embedding_layers=False)
            if not had_readme and os.path.exists(os.path.join(path, "README.md")):
                os.remove(os.path.join(path, "README.md"))  # PEFT's stub card names a local path
        else:
            self.model.save_pretrained(path)
            for name in ADAPTER_FILES:  # adapters of an earlier save would take precedence when loading
                if os.path.isfile(os.path.join(path, name)):
                    os.remove(os.path.join(path, name))
        self.tokenizer.save_pretrained(path)
        with open(os.path.join(path, ENGINE_FILE), "w", encoding="utf-8") as f:
            json.dump({"seed": self.seed, "batch_size": self.batch_size, "adapter": self.is_lora,
                       "context_variables": list(self.context_variables), "training": self.training_summary},
                      f, indent=2)

    @classmethod
    def from_pretrained(
        cls,
        path: str | os.PathLike,
        *,
        device: str | None = None,
        num_threads: int | None = None,
        backbone: str | os.PathLike | None = None,
        **kwargs: Any,
    ) -> CausalEngine:
        """Load an engine written by :meth:`save_pretrained` (a local folder or a Hub repo id).

        Args:
            backbone: for a LoRA engine, where the pretrained backbone now lives (default: the name or path
                recorded at training time, e.g. ``"smollm2"``).
        """
        engine = cls._load(str(path), backbone=backbone, **kwargs)
        if device is not None:
            engine.model = engine.model.to(device)
        engine.num_threads = num_threads
        return engine

    @classmethod
    def _load(cls, path: str, *, trainable: bool = False, backbone: Any = None, **kwargs: Any) -> CausalEngine:
        tokenizer = CausalSequenceTokenizer.from_pretrained(path, **kwargs)
        if _find_file(path, ADAPTER_FILES[0]):
            from peft import PeftModel

            config = CausalARConfig.from_pretrained(path, **kwargs)
            if backbone is not None:
                config.backbone_name_or_path = str(backbone)
            if not config.backbone_name_or_path:
                raise ValueError(f"{path} holds LoRA adapters but its config names no backbone; pass backbone=")
            model = CausalARModel.from_backbone(config)
            model.backbone = PeftModel.from_pretrained(model.backbone, path, is_trainable=trainable)
        else:
            model = CausalARModel.from_pretrained(path, **kwargs)
        settings: dict[str, Any] = {}
        local = os.path.join(path, ENGINE_FILE)
        if os.path.isfile(local):
            with open(local, encoding="utf-8") as f:
                settings = json.load(f)
        return cls(model, tokenizer, seed=settings.get("seed", 0), batch_size=settings.get("batch_size", 4096),
                   training_summary=settings.get("training"), context_variables=settings.get("context_variables", ()))

    # ---------------------------------------------------------------------------- query plans
    @staticmethod
    def _mapping(value: Any, role: str) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise TypeError(f"{role} must be a mapping {{variable: value}}, got {type(value).__name__}")
        return dict(value)

    def _check_names(self, names: Sequence[str], role: str) -> None:
        for n in names:
            if n not in self.graph:
                raise ValueError(f"{role}: unknown variable {n!r}; known: {self.tokenizer.order}")

    def _value_plan(self, name: str, value: Any, n: int, per_row: bool) -> VariablePlan:
        codec = self.tokenizer.codecs[name]
        if isinstance(codec, SequenceCodec) and isinstance(value, Mapping):
            fixed = {}
            for pos, element in value.items():
                if not isinstance(pos, (int, np.integer)) or pos < 0 or pos >= codec.max_length:
                    raise ValueError(f"{name!r}: partial intervention positions must be ints in [0, {codec.max_length})")
                fixed[int(pos)] = self.tokenizer.element_token_id(name, element)
            return VariablePlan(name, fixed_positions=fixed)
        if per_row:
            values = list(value)
            if len(values) != n:
                raise ValueError(f"{name!r}: got {len(values)} per-row values for n={n}")
            return VariablePlan(name, clamp=self.tokenizer.encode_column(name, values))
        return VariablePlan(name, clamp=[self.tokenizer.encode_value(name, value)])

    def _plans(
        self,
        n: int,
        do: Mapping[str, Any],
        given: Mapping[str, Any],
        targets: Sequence[str],
        clamp_ids: Mapping[str, list[list[int]]] | None = None,
    ) -> list[VariablePlan]:
        if not isinstance(do, Mapping) or not isinstance(given, Mapping):
            raise TypeError("do and given must be mappings {variable: value}")
        self._check_names(list(do), "do")
        self._check_names(list(given), "given")
        self._check_names(list(targets), "target")
        both = set(do) & set(given)
        if both:
            raise ValueError(f"variables {sorted(both)} are both intervened on and conditioned on")
        partial = {k for k, v in do.items() if isinstance(v, Mapping)}
        cut = set(do) - partial
        clamp_ids = dict(clamp_ids or {})
        fixed = cut | set(given) | set(clamp_ids)
        for g in given:
            missing = self.graph.ancestors(g, intervened=cut) - fixed
            if missing:
                raise ValueError(
                    f"conditioning on {g!r} needs its ancestors {sorted(missing)} fixed too (given= or do=): "
                    "the engine conditions by clamping tokens, which is exact only for evidence that is "
                    "closed under ancestors in the intervened graph; posterior inference over upstream "
                    "variables (e.g. conditioning on a descendant of the treatment alone) is not supported"
                )
        wanted = set(targets) | set(given) | set(clamp_ids)
        needed = wanted | self.graph.ancestors(wanted, intervened=cut)
        order = self.tokenizer.order
        last = max(order.index(v) for v in needed)
        plans = []
        for name in order[: last + 1]:
            if name in clamp_ids:
                plans.append(VariablePlan(name, clamp=clamp_ids[name]))
            elif name in do:
                plans.append(self._value_plan(name, do[name], n, per_row=False))
            elif name in given:
                value = given[name]
                per_row = isinstance(value, (pd.Series, np.ndarray)) or (
                    isinstance(value, list) and not isinstance(self.tokenizer.codecs[name], SequenceCodec)
                )
                plans.append(self._value_plan(name, value, n, per_row=per_row))
            elif name in self.context_variables:
                raise ValueError(
                    f"{name!r} was trained as a context variable (no model of its values): give it with given= "
                    "(per-row values), or use att(..., data=) for the effect on the treated"
                )
            else:
                plans.append(VariablePlan(name))
        return plans

    def _sample_ids(self, n: int, plans: list[VariablePlan], seed: int | None, progress: bool | None) -> dict[str, list[list[int]]]:
        with torch_threads(self.num_threads):
            return sample_tokens(
                self.model, self.tokenizer, plans, n, batch_size=self.batch_size,
                seed=self.seed if seed is None else seed, progress=self.progress if progress is None else progress,
                prefix_variables=self.prefix_variables,
            )

    def _exact(self, n: int, do: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, list[Any]]:
        """Per-row clamped values of binned (continuous) variables, reported verbatim, not dequantised."""
        out = {}
        for k, v in {**given, **do}.items():
            if isinstance(self.tokenizer.codecs[k], (CategoricalCodec, SequenceCodec)):
                continue  # discrete values decode exactly anyway
            out[k] = list(v) if isinstance(v, (pd.Series, np.ndarray, list)) else [v] * n
        return out

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
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n <= 0:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        do, given = self._mapping(do, "do"), self._mapping(given, "given")
        targets = list(variables) if variables is not None else list(self.tokenizer.order)
        plans = self._plans(int(n), do, given, targets)
        ids = self._sample_ids(int(n), plans, seed, progress)
        rng = np.random.default_rng(self.seed if seed is None else seed)
        frame = decode_samples(self.tokenizer, ids, rng, exact=self._exact(int(n), do, given))
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
        """Monte-Carlo draws of ``p(target | do(...), given)``."""
        do, given = self._mapping(do, "do"), self._mapping(given, "given")
        frame = self.sample(n, do=do, given=given, variables=[target], seed=seed)
        codec = self.tokenizer.codecs[target]
        cond = ", ".join([f"do({k}={v!r})" for k, v in do.items()] + [f"{k}={v!r}" for k, v in given.items()])
        return InterventionalDistribution(
            target, frame[target], discrete=isinstance(codec, CategoricalCodec), query=f"{target} | {cond}" if cond else target
        )

    def _arms(self, treatment: str, treated: Any, control: Any) -> tuple[Any, Any]:
        self._check_names([treatment], "treatment")
        codec = self.tokenizer.codecs[treatment]
        if treated is None or control is None:
            if not (isinstance(codec, CategoricalCodec) and len(codec.levels) == 2):
                raise ValueError(f"treatment {treatment!r} is not binary: pass treated= and control= values")
            control = codec.levels[0] if control is None else control
            treated = codec.levels[1] if treated is None else treated
        return treated, control

    def _numeric_outcome(self, outcome: str) -> None:
        self._check_names([outcome], "outcome")
        codec = self.tokenizer.codecs[outcome]
        if isinstance(codec, SequenceCodec):
            raise ValueError(f"outcome {outcome!r} is a sequence; effects need a numeric outcome")
        if isinstance(codec, CategoricalCodec) and not all(
            isinstance(v, (int, float, bool)) for v in codec.levels
        ):
            raise ValueError(f"outcome {outcome!r} has non-numeric levels; use interventional_distribution()")

    def _paired_effect(
        self,
        treatment: str,
        outcome: str,
        treated: Any,
        control: Any,
        n: int,
        given: Mapping[str, Any],
        prefix_ids: Mapping[str, list[list[int]]] | None,
        seed: int | None,
        progress: bool | None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Outcome draws under ``do(treated)`` and ``do(control)`` sharing every variable that precedes
        the treatment in the order (non-descendants: the same law in both arms, so sharing is exact
        and the difference has a much smaller Monte-Carlo variance than two independent arms)."""
        if outcome == treatment:
            raise ValueError("treatment and outcome must differ")
        if treatment in given:
            raise ValueError(f"treatment {treatment!r} cannot be in given=")
        order = self.tokenizer.order
        plans_1 = self._plans(n, {treatment: treated}, given, [outcome], clamp_ids=prefix_ids)
        ids_1 = self._sample_ids(n, plans_1, seed, progress)
        shared = {p.name: ids_1[p.name] for p in plans_1 if order.index(p.name) < order.index(treatment)}
        for name, ids in shared.items():  # broadcast single clamps to rows
            if len(ids) == 1 and n > 1:
                shared[name] = ids * n
        plans_0 = self._plans(n, {treatment: control}, {}, [outcome], clamp_ids=shared)
        ids_0 = self._sample_ids(n, plans_0, None if seed is None else seed + 1, progress)
        rng = np.random.default_rng(self.seed if seed is None else seed)
        y1 = decode_samples(self.tokenizer, {outcome: ids_1[outcome]}, rng)[outcome]
        y0 = decode_samples(self.tokenizer, {outcome: ids_0[outcome]}, rng)[outcome]
        return y1.to_numpy(dtype=np.float64), y0.to_numpy(dtype=np.float64)

    def ate(
        self,
        treatment: str,
        outcome: str,
        *,
        treated: Any = None,
        control: Any = None,
        n: int = 10_000,
        confidence: float = 0.95,
        seed: int | None = None,
        progress: bool | None = None,
    ) -> CausalEstimate:
        """Average treatment effect ``E[Y | do(A=treated)] - E[Y | do(A=control)]``.

        For a binary treatment the defaults are its larger level (treated) vs its smaller level
        (control), e.g. 1 vs 0. The interval reflects Monte-Carlo error only.
        """
        return self.cate(treatment, outcome, given={}, treated=treated, control=control, n=n,
                         confidence=confidence, seed=seed, progress=progress)

    def cate(
        self,
        treatment: str,
        outcome: str,
        given: Mapping[str, Any],
        *,
        treated: Any = None,
        control: Any = None,
        n: int = 10_000,
        confidence: float = 0.95,
        seed: int | None = None,
        progress: bool | None = None,
    ) -> CausalEstimate:
        """Conditional effect ``E[Y | do(treated), given] - E[Y | do(control), given]``.

        ``given`` must be closed under ancestors in the intervened graph (typically: the
        covariates that precede the treatment together with their own causes); otherwise a
        ``ValueError`` explains what is missing.
        """
        self._numeric_outcome(outcome)
        treated, control = self._arms(treatment, treated, control)
        y1, y0 = self._paired_effect(
            treatment, outcome, treated, control, n, self._mapping(given, "given"), None, seed, progress
        )
        cond = "".join(f", {k}={v!r}" for k, v in given.items())
        name = "CATE" if given else "ATE"
        return CausalEstimate.from_draws(
            y1 - y0, f"{name} E[{outcome}|do({treatment}={treated!r}){cond}] - E[{outcome}|do({treatment}={control!r}){cond}]",
            confidence,
        )

    def att(
        self,
        treatment: str,
        outcome: str,
        *,
        treated: Any = None,
        control: Any = None,
        n: int = 10_000,
        confidence: float = 0.95,
        seed: int | None = None,
        progress: bool | None = None,
        max_rounds: int = 50,
        data: pd.DataFrame | None = None,
    ) -> CausalEstimate:
        """Effect on the treated ``E[Y(treated) - Y(control) | A = treated]``.

        Rows of the variables preceding the treatment are drawn from ``p(. | A=treated)`` by
        rejection (observational sampling up to the treatment), then both arms are sampled with
        that prefix clamped: the prefix contains ``pa(A)``, so ``Y(a)`` is independent of ``A`` given it.

        With ``data`` (observed rows holding the treatment and every variable before it in the order),
        the prefix is instead the observed treated rows, each repeated to make ``n`` draws (the ATT of
        that sample, as in the usual plug-in estimators); this is required when a context variable
        (e.g. text) precedes the treatment, since the engine does not generate those.
        """
        self._numeric_outcome(outcome)
        treated, control = self._arms(treatment, treated, control)
        order = self.tokenizer.order
        prefix = order[: order.index(treatment)]
        if data is not None:
            prefix_ids = self._observed_prefix(data, treatment, treated, prefix, n)
            m = len(next(iter(prefix_ids.values()))) if prefix_ids else n
            y1, y0 = self._paired_effect(treatment, outcome, treated, control, m, {}, prefix_ids or None, seed, progress)
            return CausalEstimate.from_draws(
                y1 - y0, f"ATT E[{outcome}({treated!r}) - {outcome}({control!r}) | {treatment}={treated!r}] "
                "over the observed treated rows", confidence,
            )
        context = [p for p in prefix if p in self.context_variables]
        if context:
            raise ValueError(f"context variables {context} precede {treatment!r}: pass the observed rows as data=")
        target_ids = self.tokenizer.encode_value(treatment, treated)
        kept: dict[str, list[list[int]]] = {p: [] for p in prefix}
        base = self.seed if seed is None else seed
        accepted = 0
        for r in range(max_rounds):
            ids = self._sample_ids(n, self._plans(n, {}, {}, [treatment]), base + 1000 + r, False)
            hits = [i for i, t in enumerate(ids[treatment]) if list(t) == target_ids]
            for p in prefix:
                kept[p].extend(ids[p][i] for i in hits)
            accepted += len(hits)
            if accepted >= n:
                break
        if accepted == 0:
            raise ValueError(f"the model never samples {treatment}={treated!r}; the ATT is not estimable")
        m = min(accepted, n)
        prefix_ids = {p: v[:m] for p, v in kept.items()}
        y1, y0 = self._paired_effect(treatment, outcome, treated, control, m, {}, prefix_ids or None, seed, progress)
        return CausalEstimate.from_draws(
            y1 - y0, f"ATT E[{outcome}({treated!r}) - {outcome}({control!r}) | {treatment}={treated!r}]", confidence
        )

    def _observed_prefix(
        self, data: pd.DataFrame, treatment: str, treated: Any, prefix: Sequence[str], n: int
    ) -> dict[str, list[list[int]]]:
        """Token ids of the observed treated rows' prefix variables, cycled to ``max(n, rows)`` rows."""
        if not isinstance(data, pd.DataFrame):
            raise TypeError(f"data must be a pandas DataFrame, got {type(data).__name__}")
        missing = [c for c in [treatment, *prefix] if c not in data.columns]
        if missing:
            raise ValueError(f"data lacks the columns {missing} (the treatment and the variables before it)")
        rows = data[data[treatment] == treated]
        if rows.empty:
            raise ValueError(f"data has no rows with {treatment}={treated!r}")
        reps = np.resize(np.arange(len(rows)), max(n, len(rows)))
        out = {}
        for p in prefix:
            encoded = self.tokenizer.encode_column(p, rows[p].tolist())
            out[p] = [encoded[i] for i in reps]
        return out

    def _scoring_plans(self, target: str, given: Any, do: Any) -> tuple[list[VariablePlan], int]:
        """Clamped plans of every variable before ``target`` and the number of rows they define."""
        self._check_names([target], "target")
        codec = self.tokenizer.codecs[target]
        if not isinstance(codec, (CategoricalCodec, QuantileCodec)):
            raise ValueError(
                f"{target!r} is a {codec.kind} variable; exact probabilities need a categorical or binned "
                "continuous (quantile codec) target: use sample() for the others"
            )
        do, given = self._mapping(do, "do"), self._mapping(given, "given")
        lengths = {len(v) for k, v in given.items() if isinstance(v, (pd.Series, np.ndarray))
                   or (isinstance(v, list) and not isinstance(self.tokenizer.codecs.get(k), SequenceCodec))}
        if len(lengths) > 1:
            raise ValueError(f"per-row given= values have different lengths {sorted(lengths)}")
        n = lengths.pop() if lengths else 1
        if target in do or target in given:
            raise ValueError(f"{target!r} is both the target and fixed by do=/given=")
        order = self.tokenizer.order
        before = order[: order.index(target)]
        loose = [v for v in before if v not in do and v not in given]
        if loose:
            raise ValueError(
                f"exact probabilities of {target!r} need every variable before it in the order "
                f"({before}) fixed by given= or do=; {loose} are not: use sample() to marginalise them"
            )
        plans = self._plans(n, do, given, [target])[:-1]
        if any(p.fixed_positions for p in plans):
            raise ValueError("partial interventions are not supported here: use sample()")
        return plans, n

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
            variable the bins' midpoints (the mean of a value drawn in that bin).
        """
        plans, n = self._scoring_plans(target, given, do)
        with torch_threads(self.num_threads):
            probs = next_value_probabilities(
                self.model, self.tokenizer, plans, target, n, batch_size=self.batch_size, progress=self.progress,
                prefix_variables=self.prefix_variables,
            )
        codec = self.tokenizer.codecs[target]
        if isinstance(codec, QuantileCodec):
            columns: list[Any] = list(0.5 * (codec.edges[:-1] + codec.edges[1:]))
        else:
            columns = list(codec.levels)
        return pd.DataFrame(probs, columns=columns)

    def predict_mean(
        self, target: str, given: Mapping[str, Any] | None = None, do: Mapping[str, Any] | None = None
    ) -> np.ndarray:
        """Exact ``E[target | do(...), given]`` per row (see :meth:`predict_proba`; numeric targets only).

        For a binned continuous target this is the mean of the dequantised value (uniform within a bin).
        """
        self._numeric_outcome(target)
        probs = self.predict_proba(target, given=given, do=do)
        return probs.to_numpy() @ np.asarray(probs.columns, dtype=np.float64)


def _check_context_variables(graph: CausalGraph, names: Sequence[str]) -> tuple[str, ...]:
    if isinstance(names, str):
        names = (names,)
    names = tuple(names)
    for name in names:
        if name not in graph:
            raise ValueError(f"context_variables: unknown variable {name!r}")
        if graph.ancestors(name):
            raise ValueError(f"context variable {name!r} has parents; only root variables can be context")
    return names


def _positions_of(tokenizer: CausalSequenceTokenizer, input_ids: torch.Tensor, names: Sequence[str]) -> torch.Tensor:
    """Boolean mask of the positions holding the value tokens of ``names`` (after their start token)."""
    ids = input_ids.numpy()
    owner = np.full(ids.shape, -1)
    for i, name in enumerate(tokenizer.order):
        owner[ids == tokenizer.start_ids[name]] = i
    cols = np.where(owner >= 0, np.arange(ids.shape[1]), 0)
    last_start = np.maximum.accumulate(cols, axis=1)
    current = np.take_along_axis(owner, last_start, axis=1)  # variable of the latest start token
    wanted = [tokenizer.order.index(n) for n in names]
    return torch.from_numpy(np.isin(current, wanted) & (owner < 0))


def _check_prefix_order(order: Sequence[str], names: Sequence[str]) -> None:
    """The bidirectional block must be the context variables ``names`` and come first in ``order``."""
    if set(order[: len(names)]) != set(names):
        raise ValueError(
            f"bidirectional_context needs the context variables {list(names)} first in the variable order "
            f"{list(order)}; a modelled variable before them would be seen by the text block"
        )
    if len(names) == len(order):
        raise ValueError("bidirectional_context: every variable is a context variable; nothing would be modelled")


def _prefix_block(tokenizer: CausalSequenceTokenizer, input_ids: torch.Tensor, names: Sequence[str]) -> torch.Tensor:
    """Boolean mask of each row's bidirectional prefix: ``<bos>`` and every token of the context variables
    ``names``, which must be the first variables of the order (so no modelled token sits inside the block)."""
    _check_prefix_order(tokenizer.order, names)
    first_modelled = (input_ids == tokenizer.start_ids[tokenizer.order[len(names)]]).long()
    return first_modelled.cumsum(1) == 0


def _check_positions(model: CausalARModel, tokenizer: CausalSequenceTokenizer) -> None:
    """A pretrained backbone's position table must cover the longest row."""
    cfg = model.backbone.config
    limit = getattr(cfg, "n_positions", None) or getattr(cfg, "max_position_embeddings", None)
    need = tokenizer.max_sequence_length()
    if limit is not None and need > limit:
        raise ValueError(
            f"rows take up to {need} tokens but the backbone handles {limit} positions; lower max_text_length "
            "or the text variables' max_length"
        )


__all__ = ["CausalEngine"]
