"""LogSparse attention with convolutional self-attention (Li et al. 2019) in PyTorch, applied
as the authors' code applies it: full attention scores under a dense [n, n] mask of the
pattern. Written for Glance from the definitions in Sources/GlanceAttention/LogSparsePattern.swift
(not a copy of the authors' GPL code): the reference of the parity fixtures
(make_logsparse_fixtures.py) and the PyTorch side of `benchmarks/pytorch/bench_attention.py
--mechanism logsparse`.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn


def _is_offset(delta, local_window, subsequence):
    """Whether a distance back from an anchor is in the pattern: {0..w} or w + 2^m (≤ L)."""
    beyond = delta - local_window
    power_of_two = (beyond > 0) & ((beyond & (beyond - 1)) == 0)
    inside = delta <= local_window
    if subsequence is not None:
        power_of_two &= delta <= subsequence
    return (delta >= 0) & (inside | power_of_two)


def logsparse_mask(length, local_window=0, subsequence=None):
    """Bool [length, length], True where query i attends to key j. Query i sees key j when
    δ = i − j − r·L is an offset of the pattern for some restart r ≥ 0 (r = 0 only without
    restarts): δ ∈ {0, …, w} ∪ {w + 1, w + 2, w + 4, …}, and δ ≤ L with restarts."""
    positions = torch.arange(length)
    distance = positions[:, None] - positions[None, :]
    mask = _is_offset(distance, local_window, subsequence)
    if subsequence is not None:
        for restart in range(1, length // subsequence + 1):
            mask |= _is_offset(distance - restart * subsequence, local_window, subsequence)
    return mask & (distance >= 0)


class LogSparseSelfAttention(nn.Module):
    """Causal Conv1d (kernel K, left pad K − 1) for queries and keys, Linear for values and
    output, heads of d_model / heads dimensions, softmax(q·kᵀ/√d) under the pattern and key
    padding. A query that sees no key gets zeros (as in Glance)."""

    def __init__(self, d_model, heads, qk_kernel=1, local_window=0, subsequence=None):
        super().__init__()
        self.heads, self.qk_kernel = heads, qk_kernel
        self.local_window, self.subsequence = local_window, subsequence
        self.query = nn.Conv1d(d_model, d_model, qk_kernel)
        self.key = nn.Conv1d(d_model, d_model, qk_kernel)
        self.value = nn.Linear(d_model, d_model)
        self.output = nn.Linear(d_model, d_model)
        self._mask = None

    def pattern(self, length, device):
        if self._mask is None or self._mask.shape[0] != length:
            self._mask = logsparse_mask(length, self.local_window, self.subsequence).to(device)
        return self._mask

    def forward(self, x, key_padding=None):
        """x (B, n, d_model); key_padding (B, n) bool, True for real positions."""
        b, n, d = x.shape
        h = self.heads
        padded = F.pad(x.transpose(1, 2), (self.qk_kernel - 1, 0))

        def split(t):
            return t.reshape(b, n, h, d // h).transpose(1, 2)

        q = split(self.query(padded).transpose(1, 2))
        k = split(self.key(padded).transpose(1, 2))
        v = split(self.value(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(d // h)
        allowed = self.pattern(n, x.device)[None, None]
        if key_padding is not None:
            allowed = allowed & key_padding[:, None, None, :]
        scores = scores.masked_fill(~allowed, float("-inf"))
        empty = ~allowed.any(dim=-1, keepdim=True)
        weights = torch.softmax(scores.masked_fill(empty, 0.0), dim=-1).masked_fill(empty, 0.0)
        y = (weights @ v).transpose(1, 2).reshape(b, n, d)
        return self.output(y)
