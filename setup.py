"""Build hook: every bundled checkpoint ships its model card from ``model_cards/<name>/README.md``.

The card has one copy in the repository (``model_cards/``); the wheel gets it inside the checkpoint folder
(``hf_causal/checkpoints/<name>/README.md``), where ``push_to_hub`` keeps it. Metadata lives in pyproject.toml.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


class BuildPyWithModelCards(build_py):
    """``build_py`` that copies each bundled checkpoint's card into the built package."""

    def run(self) -> None:
        super().run()
        for checkpoint in sorted((ROOT / "hf_causal" / "checkpoints").iterdir()):
            card = ROOT / "model_cards" / checkpoint.name / "README.md"
            if checkpoint.is_dir() and card.is_file():
                target = Path(self.build_lib) / "hf_causal" / "checkpoints" / checkpoint.name / "README.md"
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(card, target)


setup(cmdclass={"build_py": BuildPyWithModelCards})
