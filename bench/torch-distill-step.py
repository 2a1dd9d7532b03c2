#!/usr/bin/python3
"""PyTorch (CPU, float32) baseline for the training step of `seec distill` on llama2.c's stories260K.

Measures training tokens/s, so that seec's own figure can be compared to it as a ratio.

  /usr/bin/python3 bench/torch-distill-step.py [model.bin] [--batch 8] [--sequence 128] [--steps 10] [--threads 1]

One step mirrors seec's DecoderTask.step (compiler/see/distill.ts) with its defaults:
  - a batch of B sequences of S tokens, each run forward from position 0, whole sequence at once
    with causal attention, one sequence at a time as seec does;
  - the student is the model with its token embedding table (also the tied head) as the only
    trainable parameter; every other weight is frozen;
  - loss per sequence = mean over positions 0..S-2 of KL(teacher || student) at temperature 1
    + 0.1 * cross-entropy of the next token; the batch's loss is the mean over its sequences;
  - teacher logits are computed once before timing and cached (seec caches them too);
  - backward to the embedding table, then one Adam step (lr 0.03, betas 0.9/0.999, eps 1e-8).
The difference: seec rebuilds the embedding rows from SEE factors before the forward pass and
backpropagates from the rows into the factor tables; for stories260K that is a small share of a step.

The model reader and the forward pass come from test/oracles/llama2c_grad.py (the float64 gradient
oracle), run here in float32. Tokens are random ids in [0, 512) from a fixed seed: the speed does
not depend on them. Prints one JSON line: the median seconds per step over --steps, after a warm-up.
"""
import argparse, json, os, statistics, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "test", "oracles"))
import llama2c_grad as oracle  # noqa: E402  (sets the default dtype to float64 on import)
import torch  # noqa: E402

torch.set_default_dtype(torch.float32)
_rope_f64 = oracle.rope_tables
oracle.rope_tables = lambda T, hs: tuple(t.float() for t in _rope_f64(T, hs))  # keep RoPE in float32

shared = os.environ.get("SEEC_SHARED", os.path.join(ROOT, "..", "shared"))
ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("model", nargs="?", default=os.path.join(shared, "models", "llama2c", "stories260K.bin"))
ap.add_argument("--batch", type=int, default=8)
ap.add_argument("--sequence", type=int, default=128)
ap.add_argument("--steps", type=int, default=10)
ap.add_argument("--threads", type=int, default=1)
args = ap.parse_args()
torch.set_num_threads(args.threads)

cfg, w = oracle.load_checkpoint(args.model)
w = {k: (None if v is None else v.float()) for k, v in w.items()}  # frozen: requires_grad False
emb = torch.nn.Parameter(w["tok"].clone())                         # the student's only parameter
opt = torch.optim.Adam([emb], lr=0.03, betas=(0.9, 0.999), eps=1e-8)

gen = torch.Generator().manual_seed(0)
seqs = [torch.randint(0, 512, (args.sequence,), generator=gen).tolist() for _ in range(args.batch)]
with torch.no_grad():  # the teacher's logits over positions 0..S-2, computed once and cached
    teacher = [oracle.forward(cfg, w, s)[:-1].clone() for s in seqs]


def step():
    opt.zero_grad(set_to_none=True)
    loss = sum(oracle.loss_fn(oracle.forward(cfg, w, s, tok=emb), s, t, 1.0, 0.1, 1.0)
               for s, t in zip(seqs, teacher)) / len(seqs)
    loss.backward()
    opt.step()


step()  # warm-up
times = []
for _ in range(args.steps):
    t0 = time.perf_counter()
    step()
    times.append(time.perf_counter() - t0)
sec = statistics.median(times)
print(json.dumps(dict(tokens_per_second=args.batch * args.sequence / sec, threads=args.threads,
                      batch=args.batch, sequence=args.sequence, seconds_per_step=sec)))
