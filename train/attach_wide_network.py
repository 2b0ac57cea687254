r"""Attach a fine-tuned outcome network to a checkpoint as its second, wide-prior network (docs/design.md §4.8).

``train/pretrain_outcome.py --config train/configs/cina_outcome_wide.yaml`` fine-tunes the bundled outcome network
on a prior with larger effects. That network loses where effects are small and wins where they are larger than
anything the first network saw, so the checkpoint keeps both and routes each dataset by the size of its effect
(``outcome_wide_effect_threshold``, in outcome SDs)::

    python train/attach_wide_network.py --base cina-zs-base --wide outputs/outcome_wide/final \
        --output hf_causal/checkpoints/cina-zs-base

The balancing part and the first outcome network are copied from ``--base`` unchanged; ``--wide`` must have the
same balancing weights and an outcome network of the same shape (it is checked).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from hf_causal.cina import CInAConfig, CInAModel


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line arguments (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", required=True, help="checkpoint whose balancing part and outcome network are kept")
    parser.add_argument("--wide", required=True, help="checkpoint whose outcome network becomes the wide one")
    parser.add_argument("--output", type=Path, required=True, help="folder to save the combined checkpoint in")
    parser.add_argument("--threshold", type=float, default=1.25,
                        help="route to the wide network above this plug-in effect, in outcome SDs (default 1.25: "
                             "the largest on 300 draws of the first network's training prior)")
    return parser.parse_args(argv)


def attach(base: CInAModel, wide: CInAModel, threshold: float) -> CInAModel:
    """A model with ``base``'s weights and ``wide``'s outcome network as ``outcome_network_wide``."""
    if base.outcome_network is None or wide.outcome_network is None:
        raise ValueError("both checkpoints need an outcome network")
    base_state, wide_state = base.state_dict(), wide.state_dict()
    for name, tensor in base_state.items():
        if name.startswith("outcome_network_wide."):
            continue
        other = wide_state.get(name)
        if other is None or other.shape != tensor.shape:
            raise ValueError(f"the checkpoints differ in shape at {name}: not the same architecture")
        if not name.startswith("outcome_network.") and not torch.equal(other, tensor):
            raise ValueError(f"the checkpoints' balancing weights differ at {name}: the wide network was not "
                             "fine-tuned from this checkpoint")
    config = {**base.config.to_dict(), "outcome_wide_network": True, "outcome_wide_effect_threshold": threshold}
    model = CInAModel(CInAConfig.from_dict(config))
    state = {k: v for k, v in base_state.items() if not k.startswith("outcome_network_wide.")}
    state.update({"outcome_network_wide." + k[len("outcome_network."):]: v
                  for k, v in wide_state.items() if k.startswith("outcome_network.")})
    model.load_state_dict(state, strict=True)
    return model


def main(argv: list[str] | None = None) -> int:
    """Combine and save."""
    args = parse_args(argv)
    model = attach(CInAModel.from_pretrained(args.base), CInAModel.from_pretrained(args.wide), args.threshold)
    model.save_pretrained(str(args.output))
    print(f"saved {args.output}: outcome networks 'outcome_network' and 'outcome_network_wide' "
          f"(routing above {args.threshold:g} outcome SDs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
