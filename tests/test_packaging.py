"""The built package ships each bundled checkpoint with its model card, whose one copy is in model_cards/."""

from __future__ import annotations

import subprocess
import sys

from support import REPO_ROOT


def test_build_copies_the_model_card_into_the_bundled_checkpoint(tmp_path):
    assert not (REPO_ROOT / "hf_causal" / "checkpoints" / "cina-zs-base" / "README.md").exists()  # one copy
    subprocess.run([sys.executable, "setup.py", "-q", "build_py", "--build-lib", str(tmp_path)], cwd=REPO_ROOT,
                   check=True, capture_output=True, timeout=300)
    built = tmp_path / "hf_causal" / "checkpoints" / "cina-zs-base"
    assert {"config.json", "model.safetensors", "README.md"} <= {p.name for p in built.iterdir()}
    assert (built / "README.md").read_bytes() == (REPO_ROOT / "model_cards" / "cina-zs-base" / "README.md").read_bytes()
