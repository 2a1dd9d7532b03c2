// The .see file: round trips, and every kind of corruption is refused with a clear error.
import { describe, expect, it } from "vitest";
import { readSee, writeSee } from "../../compiler/factors/format.js";
import { writeSafetensors } from "../../compiler/factors/safetensors.js";
import { catchSeec } from "../helpers/errors.js";
import { randomFactors } from "../helpers/see.js";

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

  it("refuses an index outside its source's rows, naming the tensor and position", () => {
    const f = factors();
    (f.slots[0] as { index: Int32Array }).index[5] = 999;
    const e = catchSeec(() => readSee(writeSee(f), "f.see"));
    expect(e.at).toBe("tensor index.0");
    expect(e.message).toMatch(/index\.0\[5\] = 999 is outside/);
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
