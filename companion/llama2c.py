"""llama2.c checkpoints and tokenizers (github.com/karpathy/llama2.c) in PyTorch, named as seec names them.

The weights keep the tensor names of seec's graph (compiler/frontends/llama2c.ts):
`tok_embeddings.weight` [vocab, dim], `layers.<l>.attention_norm.weight` [dim],
`layers.<l>.attention.{wq,wk,wv,wo}.weight`, `layers.<l>.ffn_norm.weight`,
`layers.<l>.feed_forward.{w1,w2,w3}.weight`, `norm.weight`, and `output.weight` when the
classifier is not shared. The forward pass is llama2.c's run.c over whole sequences from position 0:
RMSNorm (ε 1e-5), interleaved RoPE with tables rounded to f32 as run.c computes them,
grouped-query causal attention, SwiGLU, a final RMSNorm and the head (the embedding when tied).
"""
import math
import struct

import numpy as np
import torch
import torch.nn.functional as F

MAGIC = 0x616B3432  # "ak42"


def load_checkpoint(path):
    """-> (config dict, {name: float32 numpy array shaped as seec's graph})."""
    raw = open(path, "rb").read()
    off = 0
    version = 0
    (first,) = struct.unpack_from("<I", raw, 0)
    if first == MAGIC:
        (version,) = struct.unpack_from("<i", raw, 4)
        if version != 1:
            raise ValueError(f"{path}: llama2.c checkpoint version {version} is not supported (fp32 legacy or version 1)")
        off = 8
    dim, hidden, L, H, KV, vocab, seq_len = struct.unpack_from("<7i", raw, off)
    off += 28
    shared = vocab > 0 if version == 0 else raw[off] == 1
    vocab = abs(vocab)
    if version == 1:
        off = 256
    hs = dim // H
    kv_dim = hs * KV
    data = np.frombuffer(raw, dtype="<f4", offset=off)
    pos = 0

    def take(*shape):
        nonlocal pos
        n = int(np.prod(shape))
        a = data[pos:pos + n].reshape(shape).copy()
        pos += n
        return a

    w = {}

    def layers(kind, *shape):
        for l in range(L):
            w[f"layers.{l}.{kind}.weight"] = take(*shape)

    if version == 0:
        w["tok_embeddings.weight"] = take(vocab, dim)
        layers("attention_norm", dim)
        layers("attention.wq", dim, dim)
        layers("attention.wk", kv_dim, dim)
        layers("attention.wv", kv_dim, dim)
        layers("attention.wo", dim, dim)
        layers("ffn_norm", dim)
        layers("feed_forward.w1", hidden, dim)
        layers("feed_forward.w2", dim, hidden)
        layers("feed_forward.w3", hidden, dim)
        w["norm.weight"] = take(dim)
        pos += seq_len * hs  # freq_cis_real and freq_cis_imag
    else:
        layers("attention_norm", dim)
        layers("ffn_norm", dim)
        w["norm.weight"] = take(dim)
        w["tok_embeddings.weight"] = take(vocab, dim)
        layers("attention.wq", dim, dim)
        layers("attention.wk", kv_dim, dim)
        layers("attention.wv", kv_dim, dim)
        layers("attention.wo", dim, dim)
        layers("feed_forward.w1", hidden, dim)
        layers("feed_forward.w2", dim, hidden)
        layers("feed_forward.w3", hidden, dim)
    if not shared:
        w["output.weight"] = take(vocab, dim)
    if pos != data.size:
        raise ValueError(f"{path}: {4 * (data.size - pos)} bytes follow the last tensor: not a llama2.c checkpoint?")
    cfg = dict(dim=dim, hidden=hidden, layers=L, heads=H, kv_heads=KV, vocab=vocab, seq_len=seq_len, shared=shared, bos=1, eos=2)
    return cfg, w


def norm_names(cfg):
    """Every norm's weight, in the order seec's graph uses them."""
    names = []
    for l in range(cfg["layers"]):
        names += [f"layers.{l}.attention_norm.weight", f"layers.{l}.ffn_norm.weight"]
    return names + ["norm.weight"]


def trained_weights(cfg, what):
    """seec's trainedWeights (compiler/see/distill.ts): the norms, and with "all" every matmul's weight, in graph order."""
    if what == "factors":
        return []
    names = []
    for l in range(cfg["layers"]):
        p = f"layers.{l}"
        names.append(f"{p}.attention_norm.weight")
        if what == "all":
            names += [f"{p}.attention.{m}.weight" for m in ("wq", "wk", "wv", "wo")]
        names.append(f"{p}.ffn_norm.weight")
        if what == "all":
            names += [f"{p}.feed_forward.{m}.weight" for m in ("w1", "w3", "w2")]
    names.append("norm.weight")
    if what == "all" and not cfg["shared"]:
        names.append("output.weight")
    return names


def rope_tables(T, hs):
    """cos/sin of pos·10000^(−2i/hs), each step rounded to f32 as seec and run.c compute them; [T, hs/2] float64."""
    f = np.float32
    i = np.arange(hs // 2, dtype=np.float64)
    freq = f(1) / np.power(10000.0, (2 * i / hs).astype(f)).astype(f)
    angle = (np.arange(T, dtype=np.float64)[:, None] * freq.astype(np.float64)[None, :]).astype(f).astype(np.float64)
    return torch.from_numpy(np.cos(angle).astype(f).astype(np.float64)), torch.from_numpy(np.sin(angle).astype(f).astype(np.float64))


def rmsnorm(x, weight):
    return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + 1e-5) * weight


def rope(x, cos, sin):
    """x [B, T, heads, hs]: rotates adjacent pairs (x[2i], x[2i+1])."""
    x0, x1 = x[..., 0::2], x[..., 1::2]
    c, s = cos[None, :, None, :], sin[None, :, None, :]
    return torch.stack((x0 * c - x1 * s, x0 * s + x1 * c), dim=-1).flatten(-2)


def forward(cfg, w, table, tokens):
    """Logits [B, T, vocab] at every position of tokens [B, T] (from position 0).

    w: name -> tensor (the model's weights); table: the embedding [vocab, dim] the lookup and a tied
    head read (`tok_embeddings.weight` is not read from w)."""
    B, T = tokens.shape
    dim, H, KV = cfg["dim"], cfg["heads"], cfg["kv_heads"]
    hs = dim // H
    cos, sin = rope_tables(T, hs)
    cos, sin = cos.to(table.dtype).to(table.device), sin.to(table.dtype).to(table.device)
    mask = torch.ones(T, T, dtype=torch.bool, device=table.device).tril()
    group = H // KV
    x = table[tokens]
    for l in range(cfg["layers"]):
        p = f"layers.{l}"
        h = rmsnorm(x, w[f"{p}.attention_norm.weight"])
        q = rope((h @ w[f"{p}.attention.wq.weight"].T).view(B, T, H, hs), cos, sin)
        k = rope((h @ w[f"{p}.attention.wk.weight"].T).view(B, T, KV, hs), cos, sin)
        v = (h @ w[f"{p}.attention.wv.weight"].T).view(B, T, KV, hs)
        if group > 1:
            k, v = k.repeat_interleave(group, dim=2), v.repeat_interleave(group, dim=2)
        att = torch.einsum("bthd,bshd->bhts", q, k) / math.sqrt(hs)
        att = att.masked_fill(~mask, float("-inf")).softmax(-1)
        o = torch.einsum("bhts,bshd->bthd", att, v).reshape(B, T, dim)
        x = x + o @ w[f"{p}.attention.wo.weight"].T
        h = rmsnorm(x, w[f"{p}.ffn_norm.weight"])
        x = x + (F.silu(h @ w[f"{p}.feed_forward.w1.weight"].T) * (h @ w[f"{p}.feed_forward.w3.weight"].T)) @ w[f"{p}.feed_forward.w2.weight"].T
    x = rmsnorm(x, w["norm.weight"])
    head = table if cfg["shared"] else w["output.weight"]
    return x @ head.T


class Tokenizer:
    """llama2.c's tokenizer.bin and run.c's encode(): BOS, a dummy-prefix space, code points (UTF-8 bytes + 3
    where a character has no piece), then repeatedly the best-scoring adjacent merge (as seec's Llama2cTokenizer)."""

    def __init__(self, path, vocab):
        raw = open(path, "rb").read()
        off = 4
        self.pieces, self.scores = [], []
        for _ in range(vocab):
            score, n = struct.unpack_from("<fi", raw, off)
            self.pieces.append(raw[off + 8:off + 8 + n].decode("utf-8", "surrogateescape"))
            self.scores.append(score)
            off += 8 + n
        self.ids = {}
        for i, p in enumerate(self.pieces):
            self.ids.setdefault(p, i)

    def encode(self, text, bos=True):
        tokens = [1] if bos else []
        if text:
            tokens.append(self.ids[" "])
        for ch in text:
            if ch in self.ids:
                tokens.append(self.ids[ch])
            else:
                tokens += [b + 3 for b in ch.encode("utf-8")]
        while True:
            best, best_id, best_at = -1e10, -1, -1
            for i in range(len(tokens) - 1):
                m = self.ids.get(self.pieces[tokens[i]] + self.pieces[tokens[i + 1]])
                if m is not None and self.scores[m] > best:
                    best, best_id, best_at = self.scores[m], m, i
            if best_at < 0:
                return tokens
            tokens[best_at:best_at + 2] = [best_id]
