"""``EngineTrainingArguments``: every setting of :meth:`CausalEngine.train`, checked in one place."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from ..core.options import check_seed
from .codecs import check_bins

#: What ``vocabulary=`` accepts (see :class:`EngineTrainingArguments`).
VOCABULARIES = ("auto", "backbone", "causal")
#: Most optimisation steps between two validation passes when ``eval_every`` is not given (one epoch of 10,000
#: rows at the default batch size is 36 steps).
MAX_EVAL_INTERVAL = 40
#: What ``continuous_codec=`` accepts (see :mod:`hf_causal.engine.codecs`).
CONTINUOUS_CODECS = ("quantile", "digits")
@dataclass
class EngineTrainingArguments:
    """Settings of :meth:`CausalEngine.train` (defaults fit ~10k rows of a small table in seconds on a CPU).

    :meth:`CausalEngine.train` accepts these fields as keyword arguments, or one instance as ``args=``.

    Model and tokenizer:
        backbone: ``None`` (a GPT-2 from scratch sized to the table, see
            :func:`~hf_causal.engine.configuration_causal_ar.sized_backbone`), a dict of backbone config kwargs with a ``model_type``
            (e.g. ``{"model_type": "llama", "hidden_size": 128, ...}``), or a pretrained decoder: an alias
            (``"smollm2"``, ``"minilm"``: offline, from PyPI packages), a local folder or a Hub id. BERT-style
            encoders run as decoders (``is_decoder=True``).
        lora: with a pretrained backbone, ``True`` / a dict of ``peft.LoraConfig`` arguments / a ``LoraConfig``
            trains LoRA adapters plus the new tokens' embedding rows (and modules the checkpoint lacks) instead
            of every weight; see :mod:`hf_causal.engine.adapters`.
        vocabulary: with a pretrained backbone, ``"backbone"`` keeps its tokenizer's vocabulary (text variables
            use its sub-word ids; ``<start_VAR>`` and value tokens are new special tokens appended to it, see
            :class:`~hf_causal.engine.tokenization_causal_backbone.BackboneCausalTokenizer`), ``"causal"``
            replaces it by a new causal vocabulary (text as whitespace-split words), ``"auto"`` (default) is
            ``"backbone"`` when the backbone ships a tokenizer.
        backbone_tokenizer: the backbone's tokenizer when it is not stored with the backbone (object or path).
        max_text_length: most backbone tokens per text value (longer texts are truncated).
        n_bins: quantile bins per continuous variable (at least 2); ``None`` uses the Rice rule ``2 * n_rows ** (1/3)``
            clipped to 16-64 (43 bins for 10,000 rows): each bin's conditional is learned from its own rows, and
            bins with too few rows make noisier effects than slightly coarser ones (docs/design.md §6.8).
        continuous_codec: ``"quantile"`` or ``"digits"`` (see :mod:`hf_causal.engine.codecs`).
        layout: ``"auto"`` (default) drops the ``<start_VAR>`` tokens when every variable takes one token and
            there are no context variables (``"compact"``: a row costs half the tokens, so training and the network
            sampler run about twice as fast); ``"marked"`` keeps them (docs/design.md §6.1).
        ordered_bins: start a from-scratch model's binned-number embeddings at a smooth function of the bin's
            position, so that neighbouring bins start alike (:mod:`hf_causal.engine.value_embeddings`).
        context_variables: root variables that every query will give (``given=``), typically a text confounder:
            their tokens are context only, with no loss, so training spends its capacity on the mechanisms the
            queries need instead of on modelling the text itself. Such a variable can never be sampled:
            ``sample``/``ate`` refuse queries that would generate it, and ``att`` needs ``data=``.
        bidirectional_context: let the context variables' tokens attend to each other in both directions (a
            prefix LM; everything after them stays causal), for BERT-style encoders, which were pretrained
            bidirectionally. The context variables must come first in the topological order
            (docs/design.md §6).

    Optimisation:
        seed: seed of the split, initialisation, batching and of later queries.
        max_steps: most optimisation steps; ``None`` chooses ``clip(20 * sqrt(n_rows), 300, 3000)`` rounded to
            whole epochs. Training usually stops earlier (``patience``).
        patience: the schedule is warm-up, then the peak learning rate until the held-out NLL (evaluated every
            epoch) has not improved by more than ``min_improvement`` nats per value token for ``patience``
            evaluations, then a linear cool-down over a quarter of the steps so far, and stop; the cooled-down
            weights are kept. ``None`` waits for ``max_steps`` (the cool-down then ends there). See docs/design.md
            §6.8.
        min_improvement: the improvement in held-out NLL that counts for ``patience``.
        batch_size: rows per step.
        learning_rate: AdamW peak rate; ``None``: 2e-3 from scratch, 1e-3 with LoRA, 1e-4 when fully
            fine-tuning a pretrained backbone.
        weight_decay: AdamW weight decay.
        warmup_ratio: share of steps with linear warm-up (then cosine decay).
        val_fraction: rows held out to select the best weights by validation loss (0 disables; none are held
            out below 20 rows).
        eval_every: steps between validation passes (``None``: once per epoch, at most
            :data:`MAX_EVAL_INTERVAL` steps apart).
        constrained_loss: restrict each label's softmax to its variable's value tokens (the sampler's
            constraint; see :meth:`CausalARModel.forward`'s ``loss_groups``). Off: softmax over the whole
            vocabulary, which with a pretrained backbone's 30k-50k tokens spends much of a short run learning
            which tokens are valid at all.

    Run:
        output_dir: write checkpoints ``output_dir/checkpoint-<step>`` (each a loadable engine plus optimiser
            state) and the final engine there (``None``: nothing is written).
        save_steps: steps between checkpoints (``None``: only the final engine).
        resume_from_checkpoint: continue an interrupted run from one of those checkpoints.
        device: ``"cpu"``/``"cuda"``; ``None``: accelerate's choice.
        progress: show progress bars.
        num_threads: torch intra-op threads for training and later queries (``None``: unchanged).
    """

    backbone: str | os.PathLike | Mapping[str, Any] | None = None
    lora: Any = None
    vocabulary: str = "auto"
    backbone_tokenizer: Any = None
    max_text_length: int = 64
    n_bins: int | None = None
    continuous_codec: str = "quantile"
    layout: str = "auto"
    ordered_bins: bool = True
    context_variables: Sequence[str] = ()
    bidirectional_context: bool = False
    seed: int = 0
    max_steps: int | None = None
    patience: int | None = 8
    min_improvement: float = 0.0
    batch_size: int = 256
    learning_rate: float | None = None
    weight_decay: float = 0.01
    warmup_ratio: float = 0.05
    val_fraction: float = 0.1
    eval_every: int | None = None
    constrained_loss: bool = True
    output_dir: str | os.PathLike | None = None
    save_steps: int | None = None
    resume_from_checkpoint: str | os.PathLike | None = None
    device: str | None = None
    progress: bool = True
    num_threads: int | None = None

    def __post_init__(self) -> None:
        if self.backbone is not None and not isinstance(self.backbone, (str, os.PathLike, Mapping)):
            raise TypeError(f"backbone must be None, a config dict or a name/path, got {type(self.backbone).__name__}")
        if self.lora is False:
            self.lora = None
        if self.lora is not None and not self.pretrained:
            raise ValueError("lora= needs a pretrained backbone (an alias, a folder or a Hub id)")
        if self.vocabulary not in VOCABULARIES:
            raise ValueError(f"vocabulary must be one of {VOCABULARIES}, got {self.vocabulary!r}")
        if self.layout not in ("auto", "marked", "compact"):
            raise ValueError(f"layout must be 'auto', 'marked' or 'compact', got {self.layout!r}")
        if self.layout == "compact" and self.context_variables:
            raise ValueError("layout='compact' cannot hold context variables (they need their <start_VAR> block)")
        if self.continuous_codec not in CONTINUOUS_CODECS:
            raise ValueError(f"continuous_codec must be 'quantile' or 'digits', got {self.continuous_codec!r}")
        if not 0 <= self.val_fraction < 1:
            raise ValueError(f"val_fraction must be in [0, 1), got {self.val_fraction}")
        if self.max_steps is not None and (isinstance(self.max_steps, bool) or self.max_steps <= 0):
            raise ValueError(f"max_steps must be positive, got {self.max_steps}")
        if self.patience is not None and (isinstance(self.patience, bool) or int(self.patience) < 1):
            raise ValueError(f"patience must be None or a positive integer, got {self.patience!r}")
        if not self.min_improvement >= 0:
            raise ValueError(f"min_improvement must be >= 0, got {self.min_improvement!r}")
        if self.n_bins is not None:
            check_bins(self.n_bins)
        check_seed(self.seed, optional=False)
        if isinstance(self.batch_size, bool) or int(self.batch_size) <= 0:
            raise ValueError(f"batch_size must be a positive integer, got {self.batch_size!r}")
        if isinstance(self.context_variables, str):
            self.context_variables = (self.context_variables,)
        self.context_variables = tuple(self.context_variables)
        if self.bidirectional_context and not self.context_variables:
            raise ValueError("bidirectional_context=True needs context_variables (the block that attends both ways)")

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """The settings :meth:`CausalEngine.train` accepts as keyword arguments."""
        return tuple(f.name for f in fields(cls))

    @property
    def pretrained(self) -> bool:
        """Whether the backbone is a pretrained model (a name, a folder or a Hub id)."""
        return isinstance(self.backbone, (str, os.PathLike))

    def resolved_learning_rate(self) -> float:
        """``learning_rate``, or the default for the backbone and the tuning mode."""
        if self.learning_rate is not None:
            return float(self.learning_rate)
        return 2e-3 if not self.pretrained else (1e-3 if self.lora is not None else 1e-4)

    def resolve_steps(self, n_rows: int) -> int:
        """Optimisation steps for ``n_rows`` rows: ``max_steps`` if set, else whole epochs totalling about
        ``20 * sqrt(n_rows)`` steps, clamped to 300-3000."""
        if self.max_steps is not None:
            return int(self.max_steps)
        per_epoch = max(1, math.ceil(n_rows / self.batch_size))
        target = min(3000, max(300, int(20 * math.sqrt(n_rows))))
        return per_epoch * max(1, round(target / per_epoch))

    def resolved_bins(self, n_rows: int) -> int:
        """``n_bins``, or the Rice rule for ``n_rows`` rows clipped to 16-64."""
        if self.n_bins is not None:
            return int(self.n_bins)
        return int(min(64, max(16, round(2.0 * n_rows ** (1.0 / 3.0)))))

    def resolved_eval_every(self, n_rows: int) -> int:
        """Steps between validation passes: ``eval_every``, or once per epoch but at least every
        :data:`MAX_EVAL_INTERVAL` steps (so that the patience of a large table is not many epochs long)."""
        return self.eval_every or min(self.steps_per_epoch(n_rows), MAX_EVAL_INTERVAL)

    def steps_per_epoch(self, n_rows: int) -> int:
        """Optimisation steps in one pass over ``n_rows`` training rows."""
        return max(1, math.ceil(n_rows / self.batch_size))
