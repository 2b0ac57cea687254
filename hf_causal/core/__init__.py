"""The shared floor under the three wings: results, the training loop, plotting, estimator options.

* :mod:`hf_causal.core.results` -- :class:`EffectEstimate`, the one effect-result type every estimator returns.
* :mod:`hf_causal.core.training` -- the one training loop (accelerate, AdamW, warm-up + cosine, clipping,
  evaluation with best-weight selection, checkpoints with exact resume).
* :mod:`hf_causal.core.plotting` -- love plot, weight histogram, interventional distribution, lagged graph.
* :mod:`hf_causal.core.options` -- estimator option constants shared by the CLI, the pipeline and CInA.
* :mod:`hf_causal.core.aipw` -- plug-in and doubly robust ATT from nuisance predictions.

Nothing here imports a wing (``cina``, ``engine``, ``discovery``); see docs/design.md §1 and §9.
"""
