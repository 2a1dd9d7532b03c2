// The .see file: round trips, and every kind of corruption is refused with a clear error.
import { describe, expect, it } from "vitest";
import { parameterCount, shippedBytes } from "../../compiler/factors/factors.js";
import { readSee, writeSee } from "../../compiler/factors/format.js";
import { writeSafetensors, type StTensor } from "../../compiler/factors/safetensors.js";
import { catchSeec } from "../helpers/errors.js";
import { randomFactors, type Shape } from "../helpers/see.js";

const factors = () =>
  randomFactors(
    {
      vocab: 17,
      dim: 10,
      rank: 3,
      slots: [
        ["morpheme", 3],
        ["morpheme", 3],
        ["sememe", 2, true],
      ],
      norm: true,
    },
    1,
  );

describe(".see format", () => {
  it("round-trips factors exactly, bags and norm included", () => {
    const f = factors();
    const back = readSee(writeSee(f), "f.see");
    expect(back.spec).toEqual(f.spec);
    expect(back.tables).toEqual(f.tables);
    expect(back.slots).toEqual(f.slots);
    expect(back.norm).toEqual(f.norm);
  });

  it("stores an index in the narrowest integers that hold its source's rows, one per rank term for a perTerm slot", () => {
    const f = randomFactors(
      {
        vocab: 9,
        dim: 8,
        rank: 2,
        slots: [
          ["small", 2],
          ["mid", 2, false, true],
          ["big", 2],
        ],
        rows: { small: 256, mid: 257, big: 65537 },
      },
      3,
    );
    const bytes = writeSee(f);
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
    expect([header["index.0"], header["index.1"], header["index.2"]].map((t) => `${t.dtype} [${t.shape}]`)).toEqual([
      "U8 [9]",
      "U16 [2,9]",
      "I32 [9]",
    ]);
    // Widest element first: every tensor starts on a multiple of its element size, for readers that map the file.
    for (const t of Object.values(header).filter((t): t is { dtype: string; data_offsets: number[] } => !!(t as { dtype?: string }).dtype))
      expect(t.data_offsets[0] % { F32: 4, I32: 4, U16: 2, U8: 1 }[t.dtype as "F32"]).toBe(0);
    expect((n + 8) % 8).toBe(0);
    const back = readSee(bytes, "f.see");
    expect(back.spec).toEqual(f.spec);
    expect(back.slots).toEqual(f.slots);
    expect(shippedBytes(back)).toBe(4 * parameterCount(f.spec) + 9 * 1 + 2 * 9 * 2 + 9 * 4);
    // Files that store every index as I32 (seec before compact indices) read the same.
    const wide = new Map<string, StTensor>(
      [...Object.entries(f.tables)].map(([s, data]) => [
        `tables.${s}`,
        { dtype: "F32" as const, shape: [2, f.spec.sources[s].rows, 2], data },
      ]),
    );
    f.slots.forEach((s, j) => {
      const index = (s as { index: Int32Array }).index;
      wide.set(`index.${j}`, { dtype: "I32" as const, shape: j === 1 ? [2, 9] : [9], data: index });
    });
    expect(readSee(writeSafetensors(wide, { see: JSON.stringify(f.spec) }), "old.see").slots).toEqual(f.slots);
    // A perTerm slot's index has a row per rank term; a bag cannot be perTerm.
    wide.set("index.1", { dtype: "I32", shape: [9], data: new Int32Array(9) });
    const e = catchSeec(() => readSee(writeSafetensors(wide, { see: JSON.stringify(f.spec) }), "old.see"));
    expect(e.message).toBe("tensor index.1 is I32 [9], expected U8, U16 or I32 [2, 9]");
    const bag = catchSeec(() =>
      readSee(
        writeSee({ ...f, spec: { ...f.spec, slots: [f.spec.slots[0], { source: "mid", bag: "mean", perTerm: true }, f.spec.slots[2]] } }),
        "f.see",
      ),
    );
    expect(bag.message).toBe("slot 1: a bag slot cannot be perTerm");
  });

  it("writes and reads an index of 512,128 entries, USE-Lite's pq codes (a spread over them overflowed the stack)", () => {
    const slots: Shape["slots"] = [
      ["block", 64],
      ["code", 4, false, true],
    ];
    const f = randomFactors({ vocab: 8002, dim: 256, rank: 64, slots, rows: { block: 1, code: 256 } }, 4);
    expect(readSee(writeSee(f), "pq.see").slots).toEqual(f.slots);
  });

  it("reads a Node Buffer (whose slice() is a view, not a copy) as it reads a Uint8Array", () => {
    const f = factors();
    const back = readSee(Buffer.from(writeSee(f)), "f.see");
    expect(back.tables).toEqual(f.tables);
    expect(back.slots).toEqual(f.slots);
  });

  it("is a safetensors file: 8-byte header length, JSON header padded to 8 bytes, see/1 metadata", () => {
    const bytes = writeSee(factors());
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
    expect(JSON.parse(header.__metadata__.see).format).toBe("see/1");
    expect(header["tables.morpheme"].dtype).toBe("F32");
    expect(header["bag.2.offsets"].shape).toEqual([18]);
  });

  it("refuses a header length larger than the file without allocating it", () => {
    const bytes = writeSee(factors());
    new DataView(bytes.buffer).setBigUint64(0, 1n << 60n, true);
    const e = catchSeec(() => readSee(bytes, "f.see"));
    expect(e.code).toBe("input.safetensors");
    expect(e.message).toMatch(/header claims/);
  });

  it.each([0, 7, 100, 400])("refuses the file truncated to %i bytes", (n) => {
    const e = catchSeec(() => readSee(writeSee(factors()).subarray(0, n), "f.see"));
    expect(e.code).toMatch(/^input\./);
  });

  it("refuses an index outside its source's rows, naming the tensor and position (never a wrapped byte)", () => {
    for (const bad of [999, -1]) {
      const f = factors();
      (f.slots[0] as { index: Int32Array }).index[5] = bad;
      const e = catchSeec(() => readSee(writeSee(f), "f.see"));
      expect(e.at).toBe("tensor index.0");
      expect(e.message).toMatch(new RegExp(`index\\.0\\[5\\] = ${bad} is outside`));
    }
  });

  it("refuses a value that is not a finite number, naming the tensor and position (NaN reached eval as a NaN score)", () => {
    for (const [bad, where] of [
      [(f: ReturnType<typeof factors>) => (f.tables.sememe[7] = NaN), "tables.sememe[7] is NaN"],
      [
        (f: ReturnType<typeof factors>) => ((f.slots[2] as { bag: { weights: Float32Array } }).bag.weights[1] = Infinity),
        "bag.2.weights[1] is Infinity",
      ],
      [(f: ReturnType<typeof factors>) => (f.norm!.bias[0] = -Infinity), "norm.bias[0] is -Infinity"],
    ] as const) {
      const f = factors();
      bad(f);
      const e = catchSeec(() => readSee(writeSee(f), "f.see"));
      expect([e.code, e.message]).toEqual(["input.see", `${where}: factors are finite numbers`]);
    }
  });

  it("refuses hand-damaged metadata and header entries by name (each was a TypeError: an internal error)", () => {
    /** The file with its JSON header changed by `edit` (the data after it as it was). */
    const edited = (edit: (header: Record<string, unknown>, see: Record<string, unknown>) => void) => {
      const bytes = writeSee(factors());
      const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
      const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
      const original = header.__metadata__.see;
      const see = JSON.parse(original);
      edit(header, see);
      if (header.__metadata__?.see === original) header.__metadata__.see = JSON.stringify(see);
      const json = new TextEncoder().encode(JSON.stringify(header).padEnd(n, " "));
      const out = new Uint8Array(8 + json.length + bytes.length - 8 - n);
      new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
      out.set(json, 8);
      out.set(bytes.subarray(8 + n), 8 + json.length);
      return catchSeec(() => readSee(out, "f.see"));
    };
    const cases: [(h: Record<string, unknown>, s: Record<string, unknown>) => void, string, RegExp][] = [
      [(h) => (h.__metadata__ = null), "input.safetensors", /__metadata__ is not an object/],
      [(h) => ((h.__metadata__ as Record<string, string>).see = "null"), "input.see", /the metadata must be an object, got null/],
      [(_, s) => ((s.slots as unknown[])[1] = null), "input.see", /slot 1 must be \{ source \}, got null/],
      [(_, s) => ((s.sources as Record<string, unknown>).morpheme = null), "input.see", /source morpheme must be \{ rows, q \}, got null/],
      [(_, s) => ((s.slots as { source: string }[])[0].source = "constructor"), "input.see", /slot 0 names unknown source "constructor"/],
      [(h) => (h["index.0"] = null), "input.safetensors", /not \{ dtype, shape, data_offsets \}/],
    ];
    for (const [edit, code, message] of cases) {
      const e = edited(edit);
      expect([e.code, e.message]).toEqual([code, expect.stringMatching(message)]);
    }
  });

  it("refuses a tensor whose shape disagrees with the metadata", () => {
    const f = factors();
    f.tables.morpheme = f.tables.morpheme.subarray(3);
    const e = catchSeec(() => readSee(writeSee(f), "f.see"));
    expect(e.code).toMatch(/^input\./);
  });

  it("refuses slots whose widths cannot cover dim", () => {
    const f = factors();
    f.spec.dim = 100;
    f.spec.norm = "none";
    f.norm = undefined;
    const e = catchSeec(() => readSee(writeSee(f), "f.see"));
    expect(e.message).toMatch(/multiply to 18, less than dim 100/);
  });

  it("refuses a safetensors file without SEE metadata", () => {
    const bytes = writeSafetensors(new Map([["x", { dtype: "F32", shape: [1], data: new Float32Array(1) }]]), {});
    expect(catchSeec(() => readSee(bytes, "x.see")).message).toMatch(/no __metadata__\.see/);
  });
});
