#!/usr/bin/python3
"""SEE stage 2 in PyTorch: `seec distill` for a llama2.c decoder, on one process or many (torch.distributed).

  python3 companion/see_distill.py MODEL.bin --tokenizer TOK.bin --see s1.see -o s2.see [flags]
  torchrun --nproc_per_node N companion/see_distill.py MODEL.bin ... -o s2.see
  python3 companion/see_distill.py MODEL.bin --see s1.see --check-step BATCH.json --check-out GRADS.safetensors

See companion/README.md. The student is the model with its token embedding rebuilt from the
factors (and, in see/2, the file's model weights); the teacher is the original model. The loss is
seec's nextTokenLoss: mean over positions t = 0..T−2 of kl·τ²·KL(teacher ‖ student at τ) +
ce·CE(next token), mean over the batch. Adam with a warm-up over the first 5% of steps, then a
cosine down to a tenth. The factors (and weights) that score best on the held-out slice are written.
"""
import argparse
import json
import math
import os
import sys
import time

sys.dont_write_bytecode = True  # nothing written beside the sources
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import llama2c  # noqa: E402
from see_format import LAYERNORM_EPSILON, read_see, write_safetensors, write_see  # noqa: E402


# ---------------------------------------------------------------------------------------------
# The row builder: e(t) = N(cut_d(Σ_k ⊗_j v[k,j](t))), for every token at once.


class Factors:
    """The factor tables as torch parameters, and the rest of a .see as constant tensors."""

    def __init__(self, f, dtype, device):
        self.f = f
        self.spec = f["spec"]
        self.dtype, self.device = dtype, device
        self.tables = {s: torch.tensor(t, dtype=dtype, device=device, requires_grad=True) for s, t in f["tables"].items()}
        vocab = self.spec["vocab"]
        self.slots = []
        for j, slot in enumerate(f["slots"]):
            src = self.spec["sources"][self.spec["slots"][j]["source"]]
            if "index" in slot:
                self.slots.append(("index", torch.tensor(slot["index"], dtype=torch.long, device=device)))
                continue
            offsets = slot["offsets"].astype(np.int64)
            counts = np.diff(offsets)
            tok = np.repeat(np.arange(vocab), counts)
            ids = slot["ids"].astype(np.int64)
            weights = slot["weights"].astype(np.float64)
            # An empty bag reads the source's null row (default 0) with weight 1.
            empty = np.nonzero(counts == 0)[0]
            tok = np.concatenate([tok, empty])
            ids = np.concatenate([ids, np.full(len(empty), src.get("null", 0), dtype=np.int64)])
            weights = np.concatenate([weights, np.ones(len(empty))])
            self.slots.append(
                (
                    "bag",
                    torch.tensor(tok, dtype=torch.long, device=device),
                    torch.tensor(ids, dtype=torch.long, device=device),
                    torch.tensor(weights, dtype=dtype, device=device),
                )
            )
        self.norm = None
        if f["norm"] is not None:
            self.norm = tuple(torch.tensor(x, dtype=dtype, device=device) for x in f["norm"])

    def slot_vectors(self, j, k):
        """v[k, j](t) for every token: [vocab, q]."""
        table = self.tables[self.spec["slots"][j]["source"]][k]
        s = self.slots[j]
        if s[0] == "index":
            # A perTerm slot's index is [rank, vocab]: each rank term reads its own row for the token.
            return table[s[1][k] if self.spec["slots"][j].get("perTerm") else s[1]]
        _, tok, ids, w = s
        out = torch.zeros(self.spec["vocab"], table.shape[1], dtype=self.dtype, device=self.device)
        return out.index_add(0, tok, table[ids] * w[:, None])

    def table(self):
        """The rebuilt embedding [vocab, dim] (differentiable in the factor tables)."""
        vocab, dim = self.spec["vocab"], self.spec["dim"]
        acc = None
        for k in range(self.spec["rank"]):
            prod = None
            for j in range(len(self.spec["slots"])):
                v = self.slot_vectors(j, k)
                # Kronecker, the first factor most significant: (a ⊗ b)[i·len(b) + j] = a[i]·b[j].
                prod = v if prod is None else (prod[:, :, None] * v[:, None, :]).reshape(vocab, -1)
            prod = prod[:, :dim]
            acc = prod if acc is None else acc + prod
        if self.norm is not None:
            acc = F.layer_norm(acc, (dim,), self.norm[0], self.norm[1], LAYERNORM_EPSILON)
        return acc

    def numpy_tables(self):
        return {s: t.detach().cpu().numpy().astype(np.float32) for s, t in self.tables.items()}


# ---------------------------------------------------------------------------------------------
# The loss: seec's nextTokenLoss, batched with padding.


def next_token_loss(student, teacher, tokens, lengths, kl, ce, tau):
    """Σ over the sequences of (mean over t < T_i − 1 of kl·τ²·KL(teacher‖student at τ) + ce·CE) — a sum,
    so that shards of a batch add up; divide by the batch size for seec's mean."""
    B, T, V = student.shape
    n = T - 1
    s, t = student[:, :n], teacher[:, :n]
    pos = torch.arange(n, device=student.device)[None, :]
    weight = (pos < (lengths[:, None] - 1)).to(student.dtype) / (lengths[:, None] - 1).to(student.dtype)
    per = torch.zeros(B, n, dtype=student.dtype, device=student.device)
    if kl:
        lt = F.log_softmax(t / tau, -1)
        ls = F.log_softmax(s / tau, -1)
        per = per + kl * tau * tau * (lt.exp() * (lt - ls)).sum(-1)
    if ce:
        nll = -F.log_softmax(s, -1).gather(-1, tokens[:, 1:, None]).squeeze(-1)
        per = per + ce * nll
    return (per * weight).sum()


def pad(batch, device):
    T = max(len(e) for e in batch)
    tokens = torch.zeros(len(batch), T, dtype=torch.long, device=device)
    for i, e in enumerate(batch):
        tokens[i, : len(e)] = torch.as_tensor(np.asarray(e, dtype=np.int64))
    return tokens, torch.tensor([len(e) for e in batch], device=device)


# ---------------------------------------------------------------------------------------------
# Teacher and student.


class Pair:
    def __init__(self, cfg, weights, f, train, dtype, device):
        self.cfg, self.dtype, self.device = cfg, dtype, device
        if f["spec"]["replaces"] != "tok_embeddings.weight" or f["spec"]["vocab"] != cfg["vocab"] or f["spec"]["dim"] != cfg["dim"]:
            raise SystemExit(
                f"the factors are for {f['spec']['replaces']} [{f['spec']['vocab']}, {f['spec']['dim']}]; "
                f"the model's embedding is tok_embeddings.weight [{cfg['vocab']}, {cfg['dim']}]"
            )
        as_t = lambda a: torch.tensor(a, dtype=dtype, device=device)  # noqa: E731
        self.teacher_w = {n: as_t(a) for n, a in weights.items()}
        self.factors = Factors(f, dtype, device)
        self.trained = llama2c.trained_weights(cfg, train)
        # The student's own copies: the file's weights (see/2), and those that train.
        own = list(dict.fromkeys(list(f["weights"]) + self.trained))
        self.own = {n: as_t(f["weights"][n] if n in f["weights"] else weights[n]).requires_grad_(n in self.trained) for n in own}
        self.student_w = {**self.teacher_w, **self.own}

    def params(self):
        """What trains, by the names seec's stepGradients uses: the source of each table, model.<name>."""
        return {**self.factors.tables, **{f"model.{n}": self.own[n] for n in self.trained}}

    def teacher_logits(self, tokens):
        with torch.no_grad():
            return llama2c.forward(self.cfg, self.teacher_w, self.teacher_w["tok_embeddings.weight"], tokens)

    def loss_sum(self, batch, opts, teacher=None):
        tokens, lengths = pad(batch, self.device)
        if teacher is None:
            teacher = self.teacher_logits(tokens)
        student = llama2c.forward(self.cfg, self.student_w, self.factors.table(), tokens)
        return next_token_loss(student, teacher, tokens, lengths, opts.kl, opts.ce, opts.temperature)

    def snapshot(self):
        return {n: p.detach().clone() for n, p in self.params().items()}

    def factors_of(self, snap):
        """The .see contents with these parameters (see/2 when the student has weights of its own)."""
        f = dict(self.factors.f)
        f["tables"] = {s: snap[s].cpu().numpy().astype(np.float32) for s in self.factors.tables}
        f["weights"] = {
            n: (snap[f"model.{n}"] if f"model.{n}" in snap else self.own[n].detach()).cpu().numpy().astype(np.float32) for n in self.own
        }
        return f


# ---------------------------------------------------------------------------------------------
# Distributed: each process takes its share of every batch; gradients and losses are summed.


def world():
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    if dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def device_for(rank, want):
    if want != "auto":
        return torch.device(want)
    if torch.cuda.is_available():
        local = int(os.environ.get("LOCAL_RANK", rank))
        torch.cuda.set_device(local % torch.cuda.device_count())
        return torch.device("cuda", local % torch.cuda.device_count())
    return torch.device("cpu")


def all_sum(tensors):
    if dist.is_initialized():
        for t in tensors:
            dist.all_reduce(t, op=dist.ReduceOp.SUM)


def step_gradients(pair, batch, opts, rank, size):
    """One step's loss and gradients, summed over the processes' shares of the batch, meaned over it."""
    params = pair.params()
    for p in params.values():
        p.grad = None
    mine = batch[rank::size]
    loss = torch.zeros(1, dtype=pair.dtype, device=pair.device)
    if mine:
        mean = pair.loss_sum(mine, opts) / len(batch)
        mean.backward()
        loss = mean.detach().reshape(1)
    names = list(params)
    grads = [params[n].grad if params[n].grad is not None else torch.zeros_like(params[n]) for n in names]
    all_sum(grads + [loss])
    for n, g in zip(names, grads):
        params[n].grad = g
    return float(loss.item()), dict(zip(names, grads))


# ---------------------------------------------------------------------------------------------
# Data: --data FILE (seec's textsOf: paragraphs, or one text a line), or samples of the teacher.


def texts_of(content):
    import re

    paragraphs = [p for p in (re.sub(r"\s+", " ", x).strip() for x in re.split(r"\r?\n\s*\r?\n", content)) if p]
    texts = paragraphs if len(paragraphs) > 1 else [l.strip() for l in re.split(r"\r?\n", content) if l.strip()]
    if len(texts) < 2:
        raise SystemExit(f"{len(texts)} texts to train on; distillation needs at least 2 (one held out)")
    return texts


def data_from_texts(texts, tok, sequence):
    stream = [t for text in texts for t in tok.encode(text, bos=True)]
    examples = [stream[i:i + sequence] for i in range(0, len(stream) - 1, sequence)]
    return [e for e in examples if len(e) >= 2], f"{len(texts)} texts, {len(stream)} tokens"


def sample_teacher(pair, opts, rank, size):
    """opts.samples sequences of opts.sequence tokens from BOS at temperature 1. Sequence s draws from its own
    seeded generator, so the data do not depend on how many processes share the sampling."""
    mine = list(range(rank, opts.samples, size))
    out = {}
    chunk = 64
    for c in range(0, len(mine), chunk):
        ids = mine[c:c + chunk]
        u = torch.stack([torch.rand(opts.sequence, generator=torch.Generator().manual_seed(opts.seed * 1_000_003 + s), dtype=torch.float64) for s in ids])
        seqs = torch.full((len(ids), 1), pair.cfg["bos"], dtype=torch.long, device=pair.device)
        while seqs.shape[1] < opts.sequence:
            logits = pair.teacher_logits(seqs)[:, -1].double().cpu()
            cdf = logits.softmax(-1).cumsum(-1)
            nxt = torch.searchsorted(cdf, u[:, seqs.shape[1], None]).clamp(max=cdf.shape[1] - 1)
            seqs = torch.cat([seqs, nxt.to(pair.device)], 1)
        for s, row in zip(ids, seqs.cpu().tolist()):
            out[s] = row
    if dist.is_initialized():
        parts = [None] * size
        dist.all_gather_object(parts, out)
        out = {k: v for p in parts for k, v in p.items()}
    return [out[s] for s in range(opts.samples)], f"{opts.samples} sequences sampled from the teacher"


# ---------------------------------------------------------------------------------------------


def learning_rate(opts, step):
    """Warm up over the first 5% of steps, then a cosine down to a tenth (seec's distill())."""
    warm = max(1, round(opts.steps / 20))
    if step <= warm:
        return opts.lr * step / warm
    return opts.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, opts.steps - warm))))


def check_step(pair, opts, rank, size):
    batch = json.load(open(opts.check_step))["tokens"]
    loss, grads = step_gradients(pair, batch, opts, rank, size)
    if rank == 0:
        tensors = {n: ("F32", list(g.reshape(-1).shape), g.detach().reshape(-1).cpu().numpy()) for n, g in grads.items()}
        if opts.check_out:
            write_safetensors(opts.check_out, tensors, {"loss": repr(loss), "processes": str(size)})
        print(json.dumps({"loss": loss, "processes": size, "grads": {n: float(g.norm()) for n, g in grads.items()}}))


def train(pair, opts, rank, size):
    t0 = time.time()
    say = (lambda *a: print(*a, file=sys.stderr, flush=True)) if rank == 0 else (lambda *a: None)
    if opts.data:
        tok = llama2c.Tokenizer(opts.tokenizer, pair.cfg["vocab"])
        examples, source = data_from_texts(texts_of(open(opts.data, encoding="utf-8").read()), tok, opts.sequence)
    else:
        examples, source = sample_teacher(pair, opts, rank, size)
    random = np.random.default_rng(opts.seed ^ 0xD157)
    random.shuffle(examples)
    n_held = max(1, round(len(examples) * opts.held_out))
    held, train_set = examples[:n_held], examples[n_held:]
    if not train_set:
        raise SystemExit(f"{len(examples)} examples: none left to train on after holding out {n_held}")
    say(f"see_distill: {source}; {len(train_set)} to train on, {len(held)} held out; {size} process(es) on {pair.device}")

    def score(dataset):
        total = torch.zeros(1, dtype=pair.dtype, device=pair.device)
        with torch.no_grad():
            for i in range(0, len(dataset), opts.batch):
                mine = dataset[i:i + opts.batch][rank::size]
                if mine:
                    total += pair.loss_sum(mine, opts)
        all_sum([total])
        return float(total.item()) / len(dataset)

    params = pair.params()
    # As seec's defaultWeightRate: the factors' rate for the norms, at most 0.002 with every matmul training.
    weight_lr = opts.weight_lr if opts.weight_lr is not None else (min(0.002, opts.lr) if opts.train == "all" else opts.lr)
    groups = [
        {"params": [p], "name": n, "peak": weight_lr if n.startswith("model.") else opts.lr}
        for n, p in params.items()
    ]
    adam = torch.optim.Adam(groups, lr=opts.lr, betas=(0.9, 0.999), eps=1e-8)
    before = score(held)
    best = (before, 0, pair.snapshot())
    say(f"see_distill: held-out loss {before:.4f} before training")
    cursor, tokens, losses = len(train_set), 0, []
    for step in range(1, opts.steps + 1):
        if cursor + opts.batch > len(train_set):
            random.shuffle(train_set)
            cursor = 0
        batch = train_set[cursor:cursor + min(opts.batch, len(train_set))]
        cursor += min(opts.batch, len(train_set))
        loss, _ = step_gradients(pair, batch, opts, rank, size)
        lr = learning_rate(opts, step)
        for g in groups:
            g["lr"] = lr * g["peak"] / opts.lr
        adam.step()
        losses.append(loss)
        tokens += sum(len(e) for e in batch)
        if step % opts.eval_every == 0 or step == opts.steps:
            held_loss = score(held)
            say(f"see_distill: step {step}/{opts.steps} loss {loss:.4f} held-out {held_loss:.4f} {tokens / (time.time() - t0):.0f} tokens/s")
            if held_loss < best[0]:
                best = (held_loss, step, pair.snapshot())
                if rank == 0:
                    write_see(opts.out, pair.factors_of(best[2]))
    if rank == 0:
        write_see(opts.out, pair.factors_of(best[2]))
        report = {
            "out": opts.out,
            "steps": opts.steps,
            "processes": size,
            "examples": {"train": len(train_set), "heldOut": len(held), "source": source},
            "heldOut": {"before": before, "best": best[0], "bestStep": best[1]},
            "loss": losses,
            "tokens": tokens,
            "seconds": time.time() - t0,
        }
        print(json.dumps(report))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="llama2.c checkpoint (.bin)")
    p.add_argument("--tokenizer", help="llama2.c tokenizer (.bin), for --data")
    p.add_argument("--see", required=True, help="the factors to start from (.see, from seec factorize or distill)")
    p.add_argument("-o", "--out", help="write the distilled factors here (.see)")
    p.add_argument("--data", help="training text: one text a line, or paragraphs between blank lines")
    p.add_argument("--train", choices=["factors", "norms", "all"], default="factors")
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--lr", type=float, default=None, help="peak learning rate (default 0.03; for pq factors 2%% of the codewords' RMS, as seec's)")
    p.add_argument("--weight-lr", type=float, default=None)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sequence", type=int, default=128)
    p.add_argument("--samples", type=int, default=96)
    p.add_argument("--kl", type=float, default=1.0)
    p.add_argument("--ce", type=float, default=0.1)
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--held-out", type=float, default=0.1)
    p.add_argument("--eval-every", type=int, default=25)
    p.add_argument("--float64", action="store_true", help="compute in float64 (float32 by default)")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N (default: each process's GPU if any, else cpu)")
    p.add_argument("--check-step", metavar="BATCH.json", help='one step\'s loss and gradients on {"tokens": [[...], ...]}, no update')
    p.add_argument("--check-out", metavar="FILE", help="with --check-step: write the gradients here (safetensors, F32, loss in metadata)")
    opts = p.parse_args(argv)
    if not opts.check_step and not opts.out:
        p.error("-o/--out is required (or --check-step)")
    if opts.data and not opts.tokenizer:
        p.error("--data needs --tokenizer")
    rank, size = world()
    device = device_for(rank, opts.device)
    torch.manual_seed(opts.seed)
    dtype = torch.float64 if opts.float64 else torch.float32
    cfg, weights = llama2c.load_checkpoint(opts.model)
    if opts.sequence > cfg["seq_len"]:
        raise SystemExit(f"{opts.sequence} tokens per sequence do not fit the model's context of {cfg['seq_len']}")
    factors = read_see(opts.see)
    if opts.lr is None:
        opts.lr = default_learning_rate(factors)
    pair = Pair(cfg, weights, factors, opts.train, dtype, device)
    try:
        (check_step if opts.check_step else train)(pair, opts, rank, size)
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def default_learning_rate(f):
    """As seec's defaultLearningRate: 0.03, but 2% of the codewords' RMS for pq factors."""
    code = f["tables"].get("code") if f["spec"].get("method") == "pq" else None
    rms = float(np.sqrt(np.mean(np.square(code, dtype=np.float64)))) if code is not None and code.size else 0.0
    return 0.02 * rms if rms > 0 else 0.03


if __name__ == "__main__":
    main()
