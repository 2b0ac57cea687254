"""Factories the test folders share (imported by test modules as ``support``; fixtures live in conftest.py).

* ``tiny_cina_config(**overrides)`` / ``tiny_cina_model(seed)``: the smallest useful CInA model;
* ``word_tokenizer(words)``: a word-level fast tokenizer with BERT's special tokens (tiny text encoders);
* ``bpe_tokenizer(corpus, vocab_size, special)``: a byte-level BPE trained offline (tiny decoder backbones);
* ``tiny_bert(vocab_size)``: an untrained tiny BERT encoder;
* ``load_script(path)``: a script of ``train/``, ``benchmarks/`` or ``dataset_scripts/`` as a module;
* ``validation_draws(count)``: the validation draws a selection script's test run reads, as arrays;
* ``random_engine(df, graph, n_bins, sharpen)``: an untrained engine whose conditionals differ by prefix.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
#: The settings of the smallest CInA model the tests build (one layer, one head, width 8).
TINY_CINA = {"hidden_size": 8, "num_layers": 1, "kernel_temperatures": [1.0], "intermediate_size": 16}
BERT_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]


def tiny_cina_config(**overrides):
    """A :class:`CInAConfig` of :data:`TINY_CINA`, with ``overrides``."""
    from hf_causal.cina import CInAConfig

    return CInAConfig(**{**TINY_CINA, **overrides})


def tiny_cina_model(seed: int | None = None, **overrides):
    """An untrained tiny :class:`CInAModel` in eval mode (``seed``: seed torch first)."""
    from hf_causal.cina import CInAModel

    if seed is not None:
        torch.manual_seed(seed)
    return CInAModel(tiny_cina_config(**overrides)).eval()


#: A small in-context outcome network for the tiny model (one layer, two bandwidths).
TINY_OUTCOME = {"outcome_hidden_size": 16, "outcome_num_layers": 1, "outcome_intermediate_size": 32,
                "outcome_kernel_temperatures": [1.0, 4.0]}


def tiny_outcome_model(seed: int = 0, head_seeds: tuple[int, ...] = (1,), **overrides):
    """A tiny model with :data:`TINY_OUTCOME` networks whose heads are perturbed (network ``k`` with
    ``head_seeds[k]``: the first, then the wide one), so that a network's correction is not zero: an untrained head
    starts at zero and would make the network the kernel model."""
    model = tiny_cina_model(seed=seed, **{**TINY_OUTCOME, **overrides})
    with torch.no_grad():
        for head_seed, network in zip(head_seeds, (model.outcome_network, model.outcome_network_wide), strict=False):
            torch.manual_seed(head_seed)
            network.head.weight[:2] += torch.randn_like(network.head.weight[:2])
    return model


def run_selection_script(script: ModuleType, model, tmp_path: Path, family: str = "outcome_validation=2"):
    """Run a model-selection script's ``main`` with ``model`` saved as its checkpoint on the draws of ``family`` (stream
    seed 0); returns its records (one dict per dataset) and the text of its report."""
    import json

    model.save_pretrained(tmp_path / "model")
    records, report = tmp_path / "rows.jsonl", tmp_path / "report.md"
    assert script.main(["--family", family, "--seed", "0", "--records", str(records), "--model",
                        str(tmp_path / "model"), "--output", str(report)]) == 0
    return [json.loads(line) for line in records.read_text().splitlines()], report.read_text()


def validation_draws(count: int = 2):
    """``(dataset, X, T, Y)`` of the first ``count`` draws of ``outcome_validation`` at stream seed 0 (what
    :func:`run_selection_script` runs), as float / int64 / float arrays."""
    import numpy as np

    from hf_causal.data.families import sample_family

    for ds in sample_family("outcome_validation", count, seed=0):
        yield ds, np.asarray(ds.X, float), np.asarray(ds.T, np.int64), np.asarray(ds.Y, float)


def word_tokenizer(words, specials=BERT_SPECIALS):
    """A whitespace word-level fast tokenizer over ``specials + words`` (``[PAD]``/``[UNK]`` as BERT's)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate([*specials, *words])}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]")


def bpe_tokenizer(corpus, vocab_size, special, roles=("bos", "eos", "unk")):
    """A byte-level BPE (GPT-2 style: any text encodes) trained offline on ``corpus``, with one ``special``
    token serving the given ``roles``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=[special], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    backend.train_from_iterator(corpus, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=backend, **{f"{role}_token": special for role in roles})


#: The words of the tiny text encoder's vocabulary (reviews of films, good and bad).
REVIEW_WORDS = ["good", "bad", "movie", "film", "plot", "great", "awful", "the", "a", "was", "fun", "dull"]


def tiny_bert(vocab_size: int, seed: int = 0, **config):
    """An untrained tiny BERT encoder (width 32, one layer unless ``config`` says otherwise)."""
    from transformers import BertConfig, BertModel

    torch.manual_seed(seed)
    settings = {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 64,
                "max_position_embeddings": 64, **config}
    return BertModel(BertConfig(vocab_size=vocab_size, **settings))


def load_script(path, name: str | None = None) -> ModuleType:
    """Import the script at ``path`` (relative to the repository root, or absolute) as a module."""
    path = Path(path)
    if not path.is_absolute():
        path = REPO_ROOT / path
    spec = importlib.util.spec_from_file_location(name or f"script_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and pickling look the module up by name
    spec.loader.exec_module(module)
    return module


def random_engine(df, graph, n_bins: int = 8, sharpen: float = 40.0, seed: int = 0, batch_size: int = 256):
    """An untrained small engine on ``df``'s codecs, its LM head scaled by ``sharpen`` so that the random
    conditionals differ clearly between prefixes (any logits must work for the exact and table paths)."""
    from hf_causal.engine.configuration_causal_ar import CausalARConfig
    from hf_causal.engine.engine import CausalEngine
    from hf_causal.engine.modeling_causal_ar import CausalARModel
    from hf_causal.engine.tokenization_causal import CausalSequenceTokenizer

    tok = CausalSequenceTokenizer.from_data(df, graph, n_bins=n_bins)
    torch.manual_seed(seed)
    cfg = CausalARConfig(
        backbone_config={"model_type": "gpt2", "n_embd": 32, "n_layer": 2, "n_head": 2, "n_inner": 64},
        vocab_size=len(tok), max_positions=tok.max_sequence_length(),
    )
    model = CausalARModel(cfg)
    with torch.no_grad():
        model.backbone.lm_head.weight.mul_(sharpen)
    return CausalEngine(model, tok, seed=0, batch_size=batch_size, num_threads=1)
