"""A PyTorch reference of Lite Transformer's long-short range attention (Wu et al. 2020),
written from the equations of the paper and of fairseq's lightweight and dynamic
convolutions (fairseq 0.12.2 has no wheel for this Python, and the LSRA module lives only in
mit-han-lab/lite-transformer's fork). Tensors are batch-first [batch, time, channels].

    lightweight:  out[b, t, c] = sum_k w[h, k] x[b, t + k - padding_l, c],  h = c div (C/H)
    dynamic:      the same with w[b, t, h, k] = softmax_k(Linear(C -> H*K, no bias)(x[b, t]))

Both convolutions exist in the two forms fairseq has: "unfolded" (the K shifted copies of
the input) and "band" (a T x T band matrix per head, multiplied with the input); the
functions here assert that both agree before returning.
"""

import torch
import torch.nn.functional as F
from torch import nn


def same_padding(kernel_size):
    """Frames before the first input of a centred window: K div 2 for odd K, (K - 1) div 2 for even K."""
    return (kernel_size - 1) // 2


def causal_padding(kernel_size):
    return kernel_size - 1


def _unfold(x, kernel_size, padding_l):
    """[B, T, C] -> [B, T, C, K]: frame t's window x[t - padding_l .. t - padding_l + K - 1], zeros outside."""
    padded = F.pad(x, (0, 0, padding_l, kernel_size - 1 - padding_l))
    return padded.unfold(1, kernel_size, 1)


def _per_position(kernels, batch, length):
    """[H, K] (shared) or [B, T, H, K] -> [B, T, H, K]."""
    return kernels.expand(batch, length, *kernels.shape) if kernels.dim() == 2 else kernels


def headwise_conv_unfolded(x, kernels, padding_l):
    batch, length, channels = x.shape
    heads, taps = kernels.shape[-2:]
    windows = _unfold(x, taps, padding_l).reshape(batch, length, heads, channels // heads, taps)
    w = _per_position(kernels, batch, length).unsqueeze(3)
    return (windows * w).sum(-1).reshape(batch, length, channels)


def headwise_conv_band(x, kernels, padding_l):
    """The band-matrix form: M[b, h, t, s] = w[b, t, h, s - t + padding_l] where 0 <= s - t + padding_l < K."""
    batch, length, channels = x.shape
    heads, taps = kernels.shape[-2:]
    w = _per_position(kernels, batch, length).permute(0, 2, 1, 3)  # [B, H, T, K]
    band = x.new_zeros(batch, heads, length, length + taps - 1)
    for k in range(taps):
        band[:, :, torch.arange(length), torch.arange(length) + k] = w[..., k]
    band = band[:, :, :, padding_l:padding_l + length]  # columns are input frames s = t + k - padding_l
    xh = x.reshape(batch, length, heads, channels // heads).permute(0, 2, 1, 3)  # [B, H, T, R]
    return (band @ xh).permute(0, 2, 1, 3).reshape(batch, length, channels)


# Whether every convolution also runs the band form and asserts that both agree (the fixtures
# do; a benchmark, which times the unfolded form alone, turns it off).
CHECK_BAND_FORM = True


def headwise_conv(x, kernels, padding_l):
    """The convolution through the unfolded form, checked against the band form."""
    unfolded = headwise_conv_unfolded(x, kernels, padding_l)
    if CHECK_BAND_FORM:
        band = headwise_conv_band(x, kernels, padding_l)
        tolerance = 1e-10 if x.dtype == torch.float64 else 1e-5
        assert torch.allclose(unfolded, band, rtol=tolerance, atol=tolerance), (unfolded - band).abs().max()
    return unfolded


class LightweightConv(nn.Module):
    """weight [H, K]; kernels softmax over K (weight_softmax); optional bias [C]."""

    def __init__(self, channels, heads, kernel_size, weight_softmax=True, bias=False):
        super().__init__()
        self.kernel_size = kernel_size
        self.weight = nn.Parameter(torch.empty(heads, kernel_size))
        nn.init.xavier_uniform_(self.weight)
        self.bias = nn.Parameter(torch.zeros(channels)) if bias else None
        self.weight_softmax = weight_softmax

    def kernels(self, x):
        return F.softmax(self.weight, dim=-1) if self.weight_softmax else self.weight

    def forward(self, x, padding_l):
        out = headwise_conv(x, self.kernels(x), padding_l)
        return out + self.bias if self.bias is not None else out


class DynamicConv(nn.Module):
    """kernel_projection: Linear(C -> H*K, no bias); kernels softmax over K per time step."""

    def __init__(self, channels, heads, kernel_size, weight_softmax=True, bias=False):
        super().__init__()
        self.heads, self.kernel_size = heads, kernel_size
        self.kernel_projection = nn.Linear(channels, heads * kernel_size, bias=False)
        self.bias = nn.Parameter(torch.zeros(channels)) if bias else None
        self.weight_softmax = weight_softmax

    def kernels(self, x):
        logits = self.kernel_projection(x).reshape(*x.shape[:2], self.heads, self.kernel_size)
        return F.softmax(logits, dim=-1) if self.weight_softmax else logits

    forward = LightweightConv.forward


class ConvBranch(nn.Module):
    """LSRA's convolution branch: input Linear (C -> 2C and GLU, or C -> C), padded frames
    zeroed, the convolution, output Linear (C -> C)."""

    def __init__(self, channels, heads, kernel_size, conv="lightweight", glu=True, weight_softmax=True, bias=False):
        super().__init__()
        self.glu = glu
        self.input = nn.Linear(channels, 2 * channels if glu else channels)
        kind = LightweightConv if conv == "lightweight" else DynamicConv
        self.convolution = kind(channels, heads, kernel_size, weight_softmax=weight_softmax, bias=bias)
        self.output = nn.Linear(channels, channels)

    def forward(self, x, padding_l, real=None):
        """real: [B, T] bool, True for a real frame (None: no padding)."""
        h = self.input(x)
        if self.glu:
            h = F.glu(h, dim=-1)
        if real is not None:
            h = h * real.unsqueeze(-1).to(h.dtype)
        return self.output(self.convolution(h, padding_l))


class LSRAEncoderLayer(nn.Module):
    """Post-LN, as transformer_multibranch_v2's encoder layer: y = LN(x + cat(Attn(x_a), Conv(x_c)));
    out = LN(y + FFN(y)) with FFN = Linear(d -> ffn) ReLU Linear(ffn -> d) ("flattened": ffn = d)."""

    def __init__(self, d, attention_dims, attention_heads, conv_heads, kernel_size, conv="lightweight", glu=True,
                 weight_softmax=True, conv_bias=False, ffn=None):
        super().__init__()
        self.attention_dims = attention_dims
        self.attention = nn.MultiheadAttention(attention_dims, attention_heads, batch_first=True)
        self.convolution_branch = ConvBranch(d - attention_dims, conv_heads, kernel_size, conv=conv, glu=glu,
                                             weight_softmax=weight_softmax, bias=conv_bias)
        self.attention_norm = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, ffn or d)
        self.fc2 = nn.Linear(ffn or d, d)
        self.feed_forward_norm = nn.LayerNorm(d)

    def long_short_range(self, x, real=None, causal=False):
        xa, xc = x[..., :self.attention_dims], x[..., self.attention_dims:]
        length = x.shape[1]
        mask = torch.triu(torch.ones(length, length, dtype=torch.bool), 1) if causal else None
        a = self.attention(xa, xa, xa, key_padding_mask=None if real is None else ~real, attn_mask=mask, need_weights=False)[0]
        taps = self.convolution_branch.convolution.kernel_size
        padding_l = causal_padding(taps) if causal else same_padding(taps)
        return torch.cat([a, self.convolution_branch(xc, padding_l, real)], dim=-1)

    def forward(self, x, real=None, causal=False):
        y = self.attention_norm(x + self.long_short_range(x, real, causal))
        return self.feed_forward_norm(y + self.fc2(F.relu(self.fc1(y))))


class LSRADecoderLayer(nn.Module):
    """Lite Transformer's decoder layer, post-LN (transformer_multibranch_v2's decoder layer):
    y = LN(x + cat(Attn_causal(x_a), Conv_causal(x_c))); z = LN(y + CrossAttn(y, memory));
    out = LN(z + FFN(z)), the cross-attention over the full width with the memory's key padding."""

    def __init__(self, d, attention_dims, attention_heads, conv_heads, kernel_size, cross_heads, conv="dynamic", glu=True,
                 weight_softmax=True, conv_bias=False, ffn=None):
        super().__init__()
        self.self_layer = LSRAEncoderLayer(d, attention_dims, attention_heads, conv_heads, kernel_size, conv=conv, glu=glu,
                                           weight_softmax=weight_softmax, conv_bias=conv_bias, ffn=ffn)
        self.cross_attention = nn.MultiheadAttention(d, cross_heads, batch_first=True)
        self.cross_attention_norm = nn.LayerNorm(d)

    def forward(self, x, memory, memory_real=None):
        s = self.self_layer
        y = s.attention_norm(x + s.long_short_range(x, causal=True))
        padding = None if memory_real is None else ~memory_real
        z = self.cross_attention_norm(y + self.cross_attention(y, memory, memory, key_padding_mask=padding, need_weights=False)[0])
        return s.feed_forward_norm(z + s.fc2(F.relu(s.fc1(z))))
