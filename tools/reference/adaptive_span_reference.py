"""Adaptive Attention Span (Sukhbaatar et al. 2019) in PyTorch, written for Glance from the
paper's equations (not from the authors' non-commercial code): the reference of the parity
fixtures (make_adaptive_span_fixtures.py).

Dense form: scores of every query against [memory; input], a distance matrix, the key
position term, the window and the soft mask applied to the probabilities with
renormalisation. Distances include the query's own position (d = 0), as Glance's causal
attention does; the authors' query attends to the L positions before it (their x = d − 1).
"""

import math

import torch
from torch import nn

TRIM_STEP = 64
EPSILON = 1e-8


def window(span_ratios, span, ramp):
    """Positions a query sees, itself included: S minus the authors' trim, the room left
    beyond the largest span ⌈max z·S⌉ + R rounded down to a multiple of 64 (never negative)."""
    largest = math.ceil(float(span_ratios.max()) * span) + ramp
    trim = max(0, min(span - 1, span - largest)) // TRIM_STEP * TRIM_STEP
    return span - trim


class AdaptiveSpanAttention(nn.Module):
    """Causal multi-head attention with a learned span per head.

    Parameters: query, key, value, output (Linear d → d); span_ratios z [H]; key_positions
    [d_head, S], column c for the distance S − 1 − c."""

    def __init__(self, d_model, heads, span, ramp, loss_coefficient):
        super().__init__()
        self.heads, self.span, self.ramp, self.loss_coefficient = heads, span, ramp, loss_coefficient
        self.query = nn.Linear(d_model, d_model)
        self.key = nn.Linear(d_model, d_model)
        self.value = nn.Linear(d_model, d_model)
        self.output = nn.Linear(d_model, d_model)
        self.span_ratios = nn.Parameter(torch.zeros(heads))
        self.key_positions = nn.Parameter(torch.randn(d_model // heads, span))

    def split(self, x):
        b, n, d = x.shape
        return x.view(b, n, self.heads, d // self.heads).transpose(1, 2)

    def forward(self, x, memory=None):
        """x (B, N, d); memory (B, M, d) or None. Returns the output and the span penalty."""
        w = window(self.span_ratios.detach(), self.span, self.ramp)
        if memory is not None:
            kept = min(memory.shape[1], w - 1)
            memory = memory[:, memory.shape[1] - kept:]
            states = torch.cat([memory, x], dim=1)
        else:
            states = x
        n, keys = x.shape[1], states.shape[1]
        q, k, v = self.split(self.query(x)), self.split(self.key(states)), self.split(self.value(states))
        d_head = q.shape[-1]
        # distance[i, j] of query i (at position keys − n + i) to key j
        distance = (torch.arange(n)[:, None] + keys - n) - torch.arange(keys)[None, :]
        visible = (distance >= 0) & (distance < w)
        column = (self.span - 1 - distance).clamp(0, self.span - 1)
        # q_i · pe[:, S − 1 − d(i, j)] for every (i, j)
        position_scores = torch.einsum("bhid,dij->bhij", q, self.key_positions[:, column])
        scores = (q @ k.transpose(-1, -2) + position_scores) / math.sqrt(d_head)
        scores = scores.masked_fill(~visible, float("-inf"))
        probabilities = torch.softmax(scores, dim=-1)
        # m(d) = clamp((R + z·S − d)/R, 0, 1) per head
        ramp_values = (self.ramp + self.span_ratios[:, None, None] * self.span - distance) / self.ramp
        mask = torch.clamp(ramp_values, 0, 1)
        weighted = probabilities * mask
        weighted = weighted / (weighted.sum(dim=-1, keepdim=True) + EPSILON)
        out = (weighted @ v).transpose(1, 2).reshape(x.shape)
        penalty = self.loss_coefficient * self.span * self.span_ratios.mean()
        return self.output(out), penalty
