#!/usr/bin/python3
"""Independent PyTorch gradient oracle for llama2.c checkpoints (e.g. stories260K).

Written from llama2.c's run.c, sharing no code with seec. Everything runs in float64.

  /usr/bin/python3 test/oracles/llama2c_grad.py <model.bin> <request.json> <out.bin>
  /usr/bin/python3 test/oracles/llama2c_grad.py --selfcheck <model.bin>

request.json:
  {"tokens": [int, ...],                 # T >= 2 tokens; positions t = 0..T-2 predict tokens[t+1]
   "embedding": "<raw f32 [vocab, dim]>" | null,   # replaces token_embedding (lookup AND tied head)
   "teacher_logits": "<raw f32 [T-1, vocab]>" | null,
   "kl_weight": number, "ce_weight": number, "temperature": number}
  Relative file paths resolve against the directory of request.json. Raw files are little-endian.

loss = mean_t [ ce_weight * CE(logits[t], tokens[t+1])
              + kl_weight * temp^2 * KL(softmax(teacher[t]/temp) || softmax(logits[t]/temp)) ]

out.bin (little-endian float64): loss, d/d token_embedding [vocab*dim],
  d/d rms_att [L*dim], d/d rms_ffn [L*dim], d/d rms_final [dim].
stdout: one JSON line {"loss", "vocab", "dim", "layers"}.
"""
import json, math, os, struct, sys
import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)


def load_checkpoint(path):
    """Legacy llama2.c format: 7 int32 header, then f32 tensors (see run.c memory_map_weights)."""
    raw = open(path, "rb").read()
    dim, hidden, L, n_heads, n_kv, vocab, seq_len = struct.unpack("<7i", raw[:28])
    shared = vocab > 0
    vocab = abs(vocab)
    hs = dim // n_heads
    kv_dim = n_kv * hs
    data = np.frombuffer(raw, dtype="<f4", offset=28)
    pos = 0

    def take(*shape):
        nonlocal pos
        n = int(np.prod(shape))
        t = torch.from_numpy(data[pos:pos + n].astype(np.float64).reshape(shape))
        pos += n
        return t

    w = {}
    w["tok"] = take(vocab, dim)
    w["rms_att"] = take(L, dim)
    w["wq"] = take(L, dim, dim)
    w["wk"] = take(L, kv_dim, dim)
    w["wv"] = take(L, kv_dim, dim)
    w["wo"] = take(L, dim, dim)
    w["rms_ffn"] = take(L, dim)
    w["w1"] = take(L, hidden, dim)
    w["w2"] = take(L, dim, hidden)
    w["w3"] = take(L, hidden, dim)
    w["rms_final"] = take(dim)
    pos += seq_len * hs // 2 * 2  # skip freq_cis_real and freq_cis_imag
    w["wcls"] = None if shared else take(vocab, dim)
    cfg = dict(dim=dim, hidden=hidden, L=L, n_heads=n_heads, n_kv=n_kv, vocab=vocab, seq_len=seq_len)
    return cfg, w


def rope_tables(T, hs):
    """cos/sin per (pos, pair) computed in float32 exactly as run.c does, then widened to f64."""
    head_dim = torch.arange(0, hs, 2, dtype=torch.float32)            # i % head_size, i even
    freq = 1.0 / torch.pow(torch.tensor(10000.0, dtype=torch.float32), head_dim / float(hs))
    val = torch.arange(T, dtype=torch.float32)[:, None] * freq[None, :]  # pos * freq, f32
    return torch.cos(val).double(), torch.sin(val).double()            # [T, hs/2]


def rmsnorm(x, weight):
    return weight * (x / torch.sqrt((x * x).mean(-1, keepdim=True) + 1e-5))


def rope(x, cos, sin):
    """x: [T, heads, hs]; rotates adjacent pairs (x[2i], x[2i+1]) by angle pos*freq_i."""
    x0, x1 = x[..., 0::2], x[..., 1::2]
    c, s = cos[:, None, :], sin[:, None, :]
    return torch.stack((x0 * c - x1 * s, x0 * s + x1 * c), dim=-1).flatten(-2)


def forward(cfg, w, tokens, tok=None, rms_att=None, rms_ffn=None, rms_final=None):
    """Full-sequence causal forward; returns logits [T, vocab] (float64)."""
    tok = w["tok"] if tok is None else tok
    rms_att = w["rms_att"] if rms_att is None else rms_att
    rms_ffn = w["rms_ffn"] if rms_ffn is None else rms_ffn
    rms_final = w["rms_final"] if rms_final is None else rms_final
    T, dim, H, KV = len(tokens), cfg["dim"], cfg["n_heads"], cfg["n_kv"]
    hs = dim // H
    cos, sin = rope_tables(T, hs)
    mask = torch.ones(T, T, dtype=torch.bool).tril()
    x = tok[torch.tensor(tokens, dtype=torch.long)]                   # [T, dim]
    for l in range(cfg["L"]):
        xb = rmsnorm(x, rms_att[l])
        q = rope((xb @ w["wq"][l].T).view(T, H, hs), cos, sin)
        k = rope((xb @ w["wk"][l].T).view(T, KV, hs), cos, sin)
        v = (xb @ w["wv"][l].T).view(T, KV, hs)
        kv_head = torch.arange(H) // (H // KV)                          # grouped-query sharing
        k, v = k[:, kv_head], v[:, kv_head]                             # [T, H, hs]
        att = torch.einsum("thd,shd->hts", q, k) / math.sqrt(hs)
        att = att.masked_fill(~mask, float("-inf")).softmax(-1)
        o = torch.einsum("hts,shd->thd", att, v).reshape(T, dim)
        x = x + o @ w["wo"][l].T
        xb = rmsnorm(x, rms_ffn[l])
        x = x + (F.silu(xb @ w["w1"][l].T) * (xb @ w["w3"][l].T)) @ w["w2"][l].T
    x = rmsnorm(x, rms_final)
    wcls = tok if w["wcls"] is None else w["wcls"]                      # tied head uses tok
    return x @ wcls.T


def loss_fn(logits, tokens, teacher, kl_w, ce_w, temp):
    n = len(tokens) - 1
    lg = logits[:n]
    loss = ce_w * F.cross_entropy(lg, torch.tensor(tokens[1:], dtype=torch.long), reduction="mean")
    if teacher is not None and kl_w != 0:
        logp_t = F.log_softmax(teacher / temp, -1)
        logp_s = F.log_softmax(lg / temp, -1)
        kl = (logp_t.exp() * (logp_t - logp_s)).sum(-1).mean()
        loss = loss + kl_w * kl * temp * temp
    return loss


def read_f32(path, shape):
    a = np.fromfile(path, dtype="<f4")
    assert a.size == int(np.prod(shape)), f"{path}: {a.size} floats, expected {shape}"
    return torch.from_numpy(a.astype(np.float64).reshape(shape))


def compute(cfg, w, req, base):
    tokens = [int(t) for t in req["tokens"]]
    assert len(tokens) >= 2, "need at least 2 tokens"
    res = lambda p: p if os.path.isabs(p) else os.path.join(base, p)
    tok = read_f32(res(req["embedding"]), (cfg["vocab"], cfg["dim"])) if req.get("embedding") else w["tok"].clone()
    teacher = read_f32(res(req["teacher_logits"]), (len(tokens) - 1, cfg["vocab"])) if req.get("teacher_logits") else None
    params = [tok, w["rms_att"].clone(), w["rms_ffn"].clone(), w["rms_final"].clone()]
    for p in params:
        p.requires_grad_(True)
    logits = forward(cfg, w, tokens, *params)
    loss = loss_fn(logits, tokens, teacher, float(req.get("kl_weight", 0)),
                   float(req.get("ce_weight", 1)), float(req.get("temperature", 1)))
    grads = torch.autograd.grad(loss, params)
    return loss.item(), grads, params, teacher


def selfcheck(model_path):
    cfg, w = load_checkpoint(model_path)
    # 1. Greedy decoding from BOS (token 1) must reproduce llama2.c's documented output.
    tokens = [1]
    with torch.no_grad():
        while len(tokens) < 33:
            tokens.append(int(forward(cfg, w, tokens)[-1].argmax()))
    print("greedy tokens:", tokens[1:])
    mdir = os.path.dirname(os.path.abspath(model_path))
    tok_path, ref_path = os.path.join(mdir, "tok512.bin"), os.path.join(mdir, "greedy_256.txt")
    if os.path.exists(tok_path) and os.path.exists(ref_path):
        raw = open(tok_path, "rb").read()
        off, vocab = 4, []
        for _ in range(cfg["vocab"]):
            n = struct.unpack_from("<i", raw, off + 4)[0]
            vocab.append(raw[off + 8:off + 8 + n]); off += 8 + n
        text = b""
        for prev, t in zip(tokens, tokens[1:]):
            piece = vocab[t]
            if prev == 1 and piece.startswith(b" "): piece = piece[1:]
            if piece.startswith(b"<0x") and piece.endswith(b">") and len(piece) == 6:
                piece = bytes([int(piece[3:5], 16)])
            text += piece
        ref = open(ref_path, "rb").read()
        ok = ref.startswith(text)
        print("decoded:", text.decode("utf-8", "replace"))
        print("matches greedy_256.txt prefix:", ok)
        if not ok: sys.exit(1)
    # 2. Autograd vs central finite differences (float64) with CE + KL against a random teacher.
    rng = np.random.default_rng(0)
    T = 12
    teacher_path = "/tmp/llama2c_grad_selfcheck_teacher.f32"
    rng.normal(0, 3, (T - 1, cfg["vocab"])).astype("<f4").tofile(teacher_path)
    req = dict(tokens=tokens[:T], embedding=None, teacher_logits=teacher_path,
               kl_weight=0.7, ce_weight=0.4, temperature=2.0)
    loss, grads, params, teacher = compute(cfg, w, req, "/")
    print("loss:", loss)
    names = ["tok", "rms_att", "rms_ffn", "rms_final"]
    coords = [(0, (tokens[3], 5)), (0, (tokens[7], 40)), (0, (300, 17)),  # 300: only via the head
              (1, (2, 9)), (2, (4, 63)), (3, (11,))]
    worst, eps = 0.0, 1e-5
    for pi, idx in coords:
        def at(delta):
            ps = [p.detach().clone() for p in params]
            ps[pi][idx] += delta
            with torch.no_grad():
                return loss_fn(forward(cfg, w, req["tokens"], *ps), req["tokens"], teacher,
                               req["kl_weight"], req["ce_weight"], req["temperature"]).item()
        fd = (at(eps) - at(-eps)) / (2 * eps)
        ag = grads[pi][idx].item()
        rel = abs(fd - ag) / max(abs(fd), abs(ag), 1e-8)
        worst = max(worst, rel)
        print(f"grad {names[pi]}{list(idx)}: autograd {ag:.10e} fd {fd:.10e} rel {rel:.2e}")
    print("gradient check:", "ok" if worst < 1e-6 else "FAILED", f"(worst rel {worst:.2e})")
    if worst >= 1e-6: sys.exit(1)


def main(argv):
    if len(argv) == 2 and argv[0] == "--selfcheck":
        return selfcheck(argv[1])
    if len(argv) != 3:
        sys.exit(__doc__)
    model_path, req_path, out_path = argv
    cfg, w = load_checkpoint(model_path)
    req = json.load(open(req_path))
    loss, grads, _, _ = compute(cfg, w, req, os.path.dirname(os.path.abspath(req_path)))
    with open(out_path, "wb") as f:
        f.write(np.array([loss], dtype="<f8").tobytes())
        for g in grads:
            f.write(g.detach().numpy().astype("<f8").tobytes())
    print(json.dumps(dict(loss=loss, vocab=cfg["vocab"], dim=cfg["dim"], layers=cfg["L"])))


if __name__ == "__main__":
    main(sys.argv[1:])
