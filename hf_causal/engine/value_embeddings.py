"""Ordered initial embeddings for binned numbers (docs/design.md §6.8).

A quantile-binned variable's value tokens are ordered, but a fresh embedding table treats bin 17 and bin 18 as
unrelated as bin 17 and bin 40: the model has to learn from the data alone that neighbouring bins behave alike,
one bin's rows at a time. Starting each bin's input and output embedding at a smooth function of its position
on the quantile scale (Fourier features of ``u = (b + 0.5) / K`` through a random projection, the usual numeric
embedding of tabular networks) gives neighbouring bins nearby vectors from the first step, so a cell with few
rows borrows from its neighbours; training is free to move them apart where the data disagree.
"""

from __future__ import annotations

import math

import torch

from .tokenization_causal import CausalSequenceTokenizer

#: Fourier frequencies (multiples of pi on the unit quantile scale) of the initial bin embeddings.
N_FREQUENCIES = 8


@torch.no_grad()
def init_ordered_bin_embeddings(model: torch.nn.Module, tokenizer: CausalSequenceTokenizer, seed: int = 0) -> None:
    """Set the input (and untied output) embedding rows of every quantile-binned variable to a smooth function of
    the bin's quantile position, with the scale of the existing rows. Other tokens are left as they are."""
    backbone = model.backbone
    tables = [backbone.get_input_embeddings().weight]
    output = backbone.get_output_embeddings()
    if output is not None and output.weight.data_ptr() != tables[0].data_ptr():
        tables.append(output.weight)
    generator = torch.Generator().manual_seed(int(seed))
    for name in tokenizer.order:
        codec = tokenizer.codecs[name]
        if codec.kind != "quantile" or codec.size < 2:
            continue
        position = (torch.arange(codec.size, dtype=torch.float64) + 0.5) / codec.size
        frequencies = math.pi * torch.arange(1, N_FREQUENCIES + 1, dtype=torch.float64)
        angles = position[:, None] * frequencies[None, :]
        features = torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)  # (bins, 2F)
        ids = torch.arange(codec.size) + tokenizer.offsets[name]
        for table in tables:
            projection = torch.randn(features.shape[1], table.shape[1], generator=generator, dtype=torch.float64)
            rows = features @ projection
            rows = rows / rows.std() * table.float().std().double()  # the scale the backbone initialised with
            table[ids] = rows.to(table.dtype)
