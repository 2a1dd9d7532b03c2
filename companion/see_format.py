"""The `.see` file (shared/docs/SEE.md §3) read and written by hand, as seec does.

safetensors: 8-byte little-endian header length, a JSON header (`__metadata__` first, then every
tensor's dtype, shape and byte range, tensors widest element first, then by name), padded with spaces to a multiple of
8 bytes, then the raw little-endian data. `__metadata__.see` is the JSON spec. Tensors:
`tables.<source>` f32 [rank, rows, q]; `index.<slot>` [vocab], or [rank, vocab] for a perTerm slot
(u8 for a source of at most 256 rows, u16 for at most 65536, i32 beyond; any is read); `bag.<slot>.offsets` i32
[vocab+1], `bag.<slot>.ids` i32 [nnz], `bag.<slot>.weights` f32 [nnz] (optional when read:
1/count for "mean", 1 for "sum"); `norm.weight`, `norm.bias` f32 [dim]; in see/2, `model.<name>`
f32 for each model weight the spec's `weights` lists. Mirrors compiler/factors/format.ts and
compiler/factors/safetensors.ts; the reader checks shapes and index bounds like seec's.
"""
import json
import struct

import numpy as np

LAYERNORM_EPSILON = 1e-5
_DTYPES = {"F32": "<f4", "I32": "<i4", "U16": "<u2", "U8": "u1"}


class SeeError(Exception):
    pass


def read_safetensors(path):
    raw = open(path, "rb").read()
    if len(raw) < 8:
        raise SeeError(f"{path}: {len(raw)} bytes, fewer than the 8-byte header length")
    (n,) = struct.unpack_from("<Q", raw, 0)
    if n > 16 * 1024 * 1024 or n > len(raw) - 8:
        raise SeeError(f"{path}: the header claims {n} bytes; the file has {len(raw) - 8} after the length")
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    start = 8 + n
    metadata = header.pop("__metadata__", {}) or {}
    tensors = {}
    for name, e in header.items():
        if e["dtype"] not in _DTYPES:
            raise SeeError(f"{path}: tensor {name}: dtype {e['dtype']} is not supported (F32, I32, U16 or U8)")
        b, end = e["data_offsets"]
        count = int(np.prod(e["shape"], dtype=np.int64)) if e["shape"] else 1
        if end < b or start + end > len(raw) or end - b != np.dtype(_DTYPES[e["dtype"]]).itemsize * count:
            raise SeeError(f"{path}: tensor {name}: data_offsets {b, end} do not fit shape {e['shape']} in the file")
        data = np.frombuffer(raw, dtype=_DTYPES[e["dtype"]], count=count, offset=start + b).copy()
        tensors[name] = (e["dtype"], list(e["shape"]), data.reshape(e["shape"]))
    return metadata, tensors


def write_safetensors(path, tensors, metadata):
    """tensors: name -> (dtype "F32"|"I32"|"U16"|"U8", shape, numpy array). Widest element first, then name order; header space-padded to 8."""
    # Widest element first, then by name, as seec writes: every tensor's data starts on a multiple of its element size.
    names = sorted(tensors, key=lambda n: (-np.dtype(_DTYPES[tensors[n][0]]).itemsize, n))
    header = {"__metadata__": metadata}
    blobs, offset = [], 0
    for name in names:
        dtype, shape, data = tensors[name]
        blob = np.ascontiguousarray(data, dtype=_DTYPES[dtype]).tobytes()
        if len(blob) != np.dtype(_DTYPES[dtype]).itemsize * int(np.prod(shape, dtype=np.int64)):
            raise SeeError(f"tensor {name}: {len(blob)} bytes do not fit shape {shape}")
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    tmp = f"{path}.tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)
    import os

    os.replace(tmp, path)


def bag_weights(offsets, mode):
    counts = np.diff(offsets)
    per = np.where(counts > 0, 1.0 / np.maximum(counts, 1), 0.0) if mode == "mean" else np.ones_like(counts, dtype=np.float64)
    return np.repeat(per, counts).astype(np.float32)


def read_see(path):
    """-> dict(spec, tables {source: f32 [rank, rows, q]}, slots [{"index"} | {"offsets","ids","weights"}],
    norm (weight, bias) or None, weights {name: f32 array shaped as spec.weights})."""
    metadata, tensors = read_safetensors(path)
    if "see" not in metadata:
        raise SeeError(f"{path}: the safetensors file has no __metadata__.see entry")
    spec = json.loads(metadata["see"])
    if spec.get("format") not in ("see/1", "see/2"):
        raise SeeError(f"{path}: format must be see/1 or see/2, got {spec.get('format')!r}")
    if spec.get("adapters"):
        raise SeeError(f"{path}: the file carries low-rank adapters (seec distill --train lora); the companion does not train them yet")

    def take(name, dtype, shape):
        if name not in tensors:
            raise SeeError(f"{path}: tensor {name} is missing")
        d, s, data = tensors.pop(name)
        if (d not in ("U8", "U16", "I32") if dtype == "index" else d != dtype) or list(s) != list(shape):
            raise SeeError(f"{path}: tensor {name} is {d} {s}, expected {dtype} {list(shape)}")
        return data

    def in_range(name, values, limit):
        if values.size and (values.min() < 0 or values.max() >= limit):
            raise SeeError(f"{path}: {name} has entries outside [0, {limit})")

    vocab, dim, rank = spec["vocab"], spec["dim"], spec["rank"]
    tables = {s: take(f"tables.{s}", "F32", [rank, src["rows"], src["q"]]) for s, src in spec["sources"].items()}
    slots = []
    for j, slot in enumerate(spec["slots"]):
        rows = spec["sources"][slot["source"]]["rows"]
        if not (slot.get("perTerm") is None or slot.get("perTerm") is True) or (slot.get("perTerm") and slot.get("bag")):
            raise SeeError(f"{path}: slot {j}: perTerm must be true or absent, and a bag slot cannot be perTerm")
        if not slot.get("bag"):
            index = take(f"index.{j}", "index", [rank, vocab] if slot.get("perTerm") else [vocab]).astype(np.int32)
            in_range(f"index.{j}", index, rows)
            slots.append({"index": index})
            continue
        offsets = take(f"bag.{j}.offsets", "I32", [vocab + 1])
        if offsets[0] != 0 or np.any(np.diff(offsets) < 0):
            raise SeeError(f"{path}: bag.{j}.offsets must start at 0 and never decrease")
        nnz = int(offsets[-1])
        ids = take(f"bag.{j}.ids", "I32", [nnz])
        in_range(f"bag.{j}.ids", ids, rows)
        weights = take(f"bag.{j}.weights", "F32", [nnz]) if f"bag.{j}.weights" in tensors else bag_weights(offsets, slot["bag"])
        slots.append({"offsets": offsets, "ids": ids, "weights": weights})
    width = int(np.prod([spec["sources"][s["source"]]["q"] for s in spec["slots"]]))
    if width < dim:
        raise SeeError(f"{path}: the slots' widths multiply to {width}, less than dim {dim}")
    norm = (take("norm.weight", "F32", [dim]), take("norm.bias", "F32", [dim])) if spec["norm"] == "layernorm" else None
    weights = {n: take(f"model.{n}", "F32", shape) for n, shape in (spec.get("weights") or {}).items()}
    if tensors:
        raise SeeError(f"{path}: unexpected tensors: {', '.join(tensors)}")
    return {"spec": spec, "tables": tables, "slots": slots, "norm": norm, "weights": weights}


def write_see(path, f):
    """As seec's writeSee: see/2 with `model.<name>` tensors when f["weights"] has any, see/1 otherwise."""
    spec = dict(f["spec"])
    tensors = {}
    for s, src in spec["sources"].items():
        tensors[f"tables.{s}"] = ("F32", [spec["rank"], src["rows"], src["q"]], f["tables"][s])
    for j, slot in enumerate(f["slots"]):
        if "index" in slot:
            rows = spec["sources"][spec["slots"][j]["source"]]["rows"]
            shape = [spec["rank"], spec["vocab"]] if spec["slots"][j].get("perTerm") else [spec["vocab"]]
            index = np.asarray(slot["index"])
            # Wide enough for every entry (i32 for a negative one), as seec writes it, so that a reader names an
            # index out of range rather than a wrapped one.
            if index.size:
                rows = max(rows, 2**31 if index.min() < 0 else int(index.max()) + 1)
            dtype = "U8" if rows <= 256 else "U16" if rows <= 65536 else "I32"
            tensors[f"index.{j}"] = (dtype, shape, index)
        else:
            tensors[f"bag.{j}.offsets"] = ("I32", [spec["vocab"] + 1], slot["offsets"])
            tensors[f"bag.{j}.ids"] = ("I32", [len(slot["ids"])], slot["ids"])
            tensors[f"bag.{j}.weights"] = ("F32", [len(slot["weights"])], slot["weights"])
    if f.get("norm") is not None:
        tensors["norm.weight"] = ("F32", [spec["dim"]], f["norm"][0])
        tensors["norm.bias"] = ("F32", [spec["dim"]], f["norm"][1])
    weights = f.get("weights") or {}
    if weights:
        spec["format"] = "see/2"
        spec["weights"] = {n: [int(d) for d in np.shape(w)] for n, w in weights.items()}
        for n, w in weights.items():
            tensors[f"model.{n}"] = ("F32", list(np.shape(w)), w)
    else:
        spec["format"] = "see/1"
        spec.pop("weights", None)
    write_safetensors(path, tensors, {"see": json.dumps(spec, separators=(",", ":"), ensure_ascii=False)})
