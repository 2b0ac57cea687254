"""Shared test settings and fixtures: deterministic, single-threaded torch (CI has 2 cores), offline Hub.

Factories every test folder shares are in :mod:`support` (tiny models, tokenizers, the script loader), the
loopback Hub fixtures in :mod:`loopback_hub` (``recording_hub``, ``hub_online``, ``hubtools`` ...), loaded
here as a plugin so that every folder can use them.
"""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))

from support import REVIEW_WORDS, tiny_bert, tiny_cina_model, word_tokenizer  # noqa: E402

pytest_plugins = ["loopback_hub"]



@pytest.fixture
def single_thread():
    """One torch thread for the test: tiny tensors gain nothing from a second intra-op thread, and on a busy
    2-core machine OpenMP spin-waits make it many times slower. Use with ``pytestmark`` or ``usefixtures``."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


@pytest.fixture
def tiny_cina():
    """An untrained tiny CInA model (seed 0), in eval mode."""
    return tiny_cina_model(seed=0)


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A folder holding a tiny BERT encoder and its word-level tokenizer (a stand-in for MiniLM)."""
    tokenizer = word_tokenizer(REVIEW_WORDS)
    folder = tmp_path_factory.mktemp("tiny_bert")
    tiny_bert(len(tokenizer)).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)
