"""CLIP4Clip's seqTransf temporal pooler, and the exact pooling semantics vidsearch serves.

Architecture (CLIP4Clip, Luo et al. 2021, `sim_header == "seqTransf"`):

    x0 = frame vectors                                   [B, T, D]
    x  = x0 + frame_position_embeddings[:T]              learned, one row per frame position
    x  = 4 x ResidualAttentionBlock(x, padding mask)     pre-LayerNorm, heads = D / 64, 4x MLP, QuickGELU
    x  = x + x0                                          residual to the input frame vectors
    x  = x / |x|                                         each frame L2-normalized
    v  = masked mean over frames, v / |v|                the video vector

Parameter names follow CLIP4Clip (`frame_position_embeddings`, `transformerClip.resblocks.N.attn
.in_proj_weight`, `.ln_1`, `.mlp.c_fc`, `.mlp.c_proj`, `.ln_2`), so its state dicts line up.

Two deliberate differences, both because vidsearch stores L2-normalized frame vectors:
- The input frame vectors are unit length (CLIP4Clip feeds CLIP's raw image embeddings).
- The output projections of each block (attn.out_proj, mlp.c_proj) start at zero, so an untrained
  pooler is mean pooling (plus the tiny position embeddings) and training learns the difference.
  CLIP4Clip instead copies CLIP's text-transformer weights, which this offline tool cannot read.

Sequences longer than `chunk_frames` (the trained length) are pooled in near-equal consecutive
chunks of at most `chunk_frames`; the chunk vectors are averaged, weighted by their frame counts,
and normalized. `pool_groups` is that rule; the TypeScript runtime (indexer/pooler.ts) does the same.
"""
import math
from typing import List, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

MASKED = -1000000.0  # CLIP4Clip's additive mask value


class QuickGELU(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


class MultiheadSelfAttention(nn.Module):
    """nn.MultiheadAttention's parameters (in_proj_weight/bias, out_proj), written out with plain
    ops so the ONNX export is simple and shape-agnostic."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        assert width % heads == 0, f"width {width} is not a multiple of heads {heads}"
        self.heads = heads
        self.head_dim = width // heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * width, width))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * width))
        self.out_proj = nn.Linear(width, width)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        # x [B, T, D]; bias [B, 1, 1, T] additive (0 for frames, MASKED for padding)
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)
        q, k, v = qkv.chunk(3, dim=-1)

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.reshape(t.shape[0], t.shape[1], self.heads, self.head_dim).transpose(1, 2)

        q, k, v = split(q), split(k), split(v)
        scores = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(self.head_dim)) + bias
        out = torch.matmul(torch.softmax(scores, dim=-1), v)  # [B, H, T, hd]
        out = out.transpose(1, 2).reshape(x.shape[0], x.shape[1], x.shape[2])
        return self.out_proj(out)


class ResidualAttentionBlock(nn.Module):
    def __init__(self, width: int, heads: int):
        super().__init__()
        self.attn = MultiheadSelfAttention(width, heads)
        self.ln_1 = nn.LayerNorm(width)
        self.mlp = nn.Sequential()
        self.mlp.add_module("c_fc", nn.Linear(width, width * 4))
        self.mlp.add_module("gelu", QuickGELU())
        self.mlp.add_module("c_proj", nn.Linear(width * 4, width))
        self.ln_2 = nn.LayerNorm(width)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), bias)
        return x + self.mlp(self.ln_2(x))


class TransformerClip(nn.Module):
    def __init__(self, width: int, layers: int, heads: int):
        super().__init__()
        self.resblocks = nn.ModuleList([ResidualAttentionBlock(width, heads) for _ in range(layers)])

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        for block in self.resblocks:
            x = block(x, bias)
        return x


def default_heads(width: int) -> int:
    return max(1, width // 64)


class SeqTransfPooler(nn.Module):
    def __init__(self, dim: int, layers: int = 4, heads: int = 0, positions: int = 64):
        super().__init__()
        self.dim = dim
        self.layers = layers
        self.heads = heads or default_heads(dim)
        self.positions = positions
        self.frame_position_embeddings = nn.Embedding(positions, dim)
        self.transformerClip = TransformerClip(dim, layers, self.heads)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # CLIP's transformer initialization, except the two output projections (see module doc).
        width, layers = self.dim, self.layers
        attn_std = width ** -0.5
        fc_std = (2 * width) ** -0.5
        nn.init.normal_(self.frame_position_embeddings.weight, std=0.01)
        for block in self.transformerClip.resblocks:
            nn.init.normal_(block.attn.in_proj_weight, std=attn_std)
            nn.init.zeros_(block.attn.in_proj_bias)
            nn.init.zeros_(block.attn.out_proj.weight)
            nn.init.zeros_(block.attn.out_proj.bias)
            nn.init.normal_(block.mlp.c_fc.weight, std=fc_std)
            nn.init.zeros_(block.mlp.c_fc.bias)
            nn.init.zeros_(block.mlp.c_proj.weight)
            nn.init.zeros_(block.mlp.c_proj.bias)

    def forward(self, frame_embeds: torch.Tensor, frame_mask: torch.Tensor) -> torch.Tensor:
        """frame_embeds f32[B, T, D], frame_mask i64[B, T] (1 frame, 0 padding) -> f32[B, D]."""
        x0 = frame_embeds
        t = frame_embeds.shape[1]
        x = x0 + self.frame_position_embeddings.weight[:t].unsqueeze(0)
        mask = frame_mask.to(x0.dtype)
        bias = ((1.0 - mask) * MASKED).unsqueeze(1).unsqueeze(2)
        x = self.transformerClip(x, bias)
        x = x + x0
        x = x / torch.clamp(x.norm(dim=-1, keepdim=True), min=1e-12)
        m = mask.unsqueeze(-1)
        v = (x * m).sum(dim=1) / torch.clamp(m.sum(dim=1), min=1.0)
        return v / torch.clamp(v.norm(dim=-1, keepdim=True), min=1e-12)


def chunk_sizes(n: int, chunk: int) -> List[int]:
    """n frames as ceil(n / chunk) consecutive chunks of near-equal size (larger ones first)."""
    if n <= 0:
        raise ValueError("cannot pool zero frames")
    parts = -(-n // chunk)
    base, extra = divmod(n, parts)
    return [base + 1 if i < extra else base for i in range(parts)]


def pool_groups(model: SeqTransfPooler, groups: Sequence[torch.Tensor], chunk: int) -> torch.Tensor:
    """Pools each group (a [T_i, D] tensor of frame vectors) into one unit vector, chunking groups
    longer than `chunk` as the runtime does. Differentiable: training uses it too."""
    chunk = min(chunk, model.positions)
    pieces: List[torch.Tensor] = []
    owner: List[int] = []
    weight: List[float] = []
    for g, frames in enumerate(groups):
        at = 0
        for size in chunk_sizes(frames.shape[0], chunk):
            pieces.append(frames[at : at + size])
            owner.append(g)
            weight.append(float(size))
            at += size
    longest = max(p.shape[0] for p in pieces)
    dim = pieces[0].shape[1]
    batch = pieces[0].new_zeros((len(pieces), longest, dim))
    mask = torch.zeros((len(pieces), longest), dtype=torch.long, device=batch.device)
    for i, p in enumerate(pieces):
        batch[i, : p.shape[0]] = p
        mask[i, : p.shape[0]] = 1
    vectors = model(batch, mask)
    if len(pieces) == len(groups):
        return vectors
    w = torch.tensor(weight, dtype=vectors.dtype, device=vectors.device).unsqueeze(1)
    index = torch.tensor(owner, dtype=torch.long, device=vectors.device)
    summed = vectors.new_zeros((len(groups), dim)).index_add(0, index, vectors * w)
    return summed / torch.clamp(summed.norm(dim=-1, keepdim=True), min=1e-12)


def mean_pool_groups(groups: Sequence[torch.Tensor]) -> torch.Tensor:
    """vidsearch's mean pooling: normalize each frame, mean, normalize."""
    out = []
    for frames in groups:
        f = frames / torch.clamp(frames.norm(dim=-1, keepdim=True), min=1e-12)
        v = f.mean(dim=0)
        out.append(v / torch.clamp(v.norm(), min=1e-12))
    return torch.stack(out)
