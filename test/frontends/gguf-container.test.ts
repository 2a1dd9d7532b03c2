// The GGUF container (gguf/container.ts) on files written byte by byte from ggml's docs/gguf.md
// (test/helpers/gguf-bytes.ts): every value type, tensor infos and where their data lies, and each
// refusal's code, message, byte offset and hint.
import { describe, expect, it } from "vitest";
import { readGgufContainer } from "../../compiler/frontends/gguf/container.js";
import { catchSeec } from "../helpers/errors.js";
import { array, Bytes, ggufBytes, scalar, VALUE_TYPE, type MetaValue, type TensorInfoOut } from "../helpers/gguf-bytes.js";

const read = (bytes: Uint8Array) => readGgufContainer(bytes, "c.gguf");

function refusal(bytes: Uint8Array) {
  const e = catchSeec(() => read(bytes));
  expect(e.file).toBe("c.gguf");
  return { code: e.code, message: e.message, at: e.at, hint: e.hint };
}

const tensor = (
  name: string,
  dims: (number | bigint)[],
  type = 0,
  data = new Uint8Array(4 * dims.reduce<number>((a, d) => a * Number(d), 1)),
  offset?: number | bigint,
): TensorInfoOut => ({
  name,
  dims,
  type,
  data,
  offset,
});

describe("the GGUF container", () => {
  it("reads every metadata value type, in versions 2 and 3", () => {
    const meta: [string, MetaValue][] = [
      ["u8", scalar("u8", 255)],
      ["i8", scalar("i8", -128)],
      ["u16", scalar("u16", 65535)],
      ["i16", scalar("i16", -2)],
      ["u32", scalar("u32", 4294967295)],
      ["i32", scalar("i32", -3)],
      ["f32", scalar("f32", 1.5)],
      ["true", scalar("bool", true)],
      ["false", scalar("bool", false)],
      ["string", scalar("string", "é☃ x")],
      ["u64", scalar("u64", 2n ** 64n - 1n)],
      ["i64", scalar("i64", -5n)],
      ["f64", scalar("f64", 0.1)],
      ["strings", array("string", ["a", "", "☃"])],
      ["empty", array("u8", [])],
      ["i16s", array("i16", [-1, 2])],
      ["f64s", array("f64", [0.25, -1e300])],
    ];
    for (const version of [2, 3]) {
      const g = read(ggufBytes({ version, meta }));
      expect(g.version).toBe(version);
      expect(g.alignment).toBe(32);
      expect(g.tensors.size).toBe(0);
      expect([...g.metadata]).toEqual([
        ["u8", 255],
        ["i8", -128],
        ["u16", 65535],
        ["i16", -2],
        ["u32", 4294967295],
        ["i32", -3],
        ["f32", 1.5],
        ["true", true],
        ["false", false],
        ["string", "é☃ x"],
        ["u64", 2n ** 64n - 1n],
        ["i64", -5n],
        ["f64", 0.1],
        ["strings", ["a", "", "☃"]],
        ["empty", []],
        ["i16s", [-1, 2]],
        ["f64s", [0.25, -1e300]],
      ]);
    }
    // A bool byte other than 0 is true.
    const two = ggufBytes({ meta: [["b", scalar("u8", 2)]] });
    two[24 + 8 + 1] = VALUE_TYPE.bool;
    expect(read(two).metadata.get("b")).toBe(true);
  });

  it("places each tensor's data after the infos, padded to the alignment, at its offset", () => {
    const a = tensor("a", [3, 2]); // 24 bytes
    const b = tensor("b", [32, 1], 8, new Uint8Array(34)); // one Q8_0 block
    const c = tensor("c", [2, 2, 2, 2], 1, new Uint8Array(32)); // F16, rank 4
    for (const alignment of [32, 64, 1]) {
      const meta: [string, MetaValue][] = alignment === 32 ? [] : [["general.alignment", scalar("u32", alignment)]];
      const bytes = ggufBytes({ meta, tensors: [a, b, c], alignment });
      const g = read(bytes);
      expect(g.alignment).toBe(alignment);
      // The data section starts where the infos end, rounded up: the file's length less the padded data.
      const pad = (n: number) => Math.ceil(n / alignment) * alignment;
      const start = bytes.length - pad(24) - pad(34) - pad(32);
      expect(start % alignment).toBe(0);
      expect([...g.tensors.values()]).toEqual([
        { name: "a", dims: [3, 2], type: 0, offset: start, count: 6 },
        { name: "b", dims: [32, 1], type: 8, offset: start + pad(24), count: 32 },
        { name: "c", dims: [2, 2, 2, 2], type: 1, offset: start + pad(24) + pad(34), count: 16 },
      ]);
    }
    // Data that ends exactly at the file's end is in the file.
    const exact = ggufBytes({ tensors: [tensor("t", [8])] });
    expect(read(exact).tensors.get("t")!.offset).toBe(exact.length - 32);
  });

  it("refuses a file that is not GGUF or of another version", () => {
    const g = ggufBytes({});
    const notGguf = g.slice();
    notGguf[3] = 0x47;
    expect(refusal(notGguf)).toEqual({
      code: "input.gguf",
      message: 'the file does not start with "GGUF"',
      at: "byte 0",
      hint: "this is not a GGUF file",
    });
    for (const version of [1, 4])
      expect(refusal(ggufBytes({ version }))).toEqual({
        code: "unsupported.gguf_version",
        message: `GGUF version ${version}; seec reads versions 2 and 3`,
        at: "byte 4",
        hint: undefined,
      });
    expect(refusal(g.subarray(0, 3))).toMatchObject({
      code: "input.truncated",
      message: "file ends inside the GGUF magic: needs 4 bytes, 3 left",
    });
    expect(refusal(g.subarray(0, 6))).toMatchObject({
      code: "input.truncated",
      message: "file ends inside the GGUF version: needs 4 bytes, 2 left",
    });
  });

  it("refuses counts the file cannot hold, and positions past 2^53", () => {
    const len = (b: Uint8Array) => b.length;
    const many = ggufBytes({ tensorCount: 10n ** 6n });
    expect(refusal(many)).toEqual({
      code: "input.gguf",
      message: `the tensor count is 1000000, more than the file's ${len(many)} bytes could hold`,
      at: "byte 8",
      hint: undefined,
    });
    // A count the file's length allows but not its remaining bytes: a tensor info takes at least 28.
    const lying = ggufBytes({ tensorCount: 3n, tensors: [tensor("t", [1])] }); // 96 bytes: 72 after the header
    expect(refusal(lying)).toEqual({
      code: "input.truncated",
      message: `the tensor count 3 needs more than the ${lying.length - 24} bytes left`,
      at: "byte 8",
      hint: "the file is truncated, or the count is wrong",
    });
    const exactly = ggufBytes({ tensorCount: 1n, tensors: [] }); // 24-byte header + 8 bytes of padding: 8 left, one info needs 28
    expect(refusal(exactly).code).toBe("input.truncated");
    const kv = ggufBytes({ kvCount: 33n });
    expect(refusal(kv)).toMatchObject({
      code: "input.gguf",
      message: "the metadata count is 33, more than the file's 32 bytes could hold",
      at: "byte 16",
    });
    const key = ggufBytes({ meta: [["k", scalar("u8", 1)]] });
    new DataView(key.buffer).setBigUint64(24, BigInt(key.length + 1), true);
    expect(refusal(key)).toMatchObject({
      message: `the length of metadata key 0 is ${key.length + 1}, more than the file's ${key.length} bytes could hold`,
      at: "byte 24",
    });
    new DataView(key.buffer).setBigUint64(24, BigInt(key.length), true); // within the file, past what is left
    expect(refusal(key)).toMatchObject({
      code: "input.truncated",
      message: `file ends inside metadata key 0: needs ${key.length} bytes, ${key.length - 32} left`,
    });
    // Dimensions and offsets are positions: as large as they like, up to 2^53.
    const infoAt = 24 + 8 + 1 + 4; // after the name "t" and the rank
    const dim = ggufBytes({ tensors: [tensor("t", [2n ** 53n + 1n], 0, new Uint8Array(4))] });
    expect(refusal(dim)).toEqual({
      code: "input.gguf",
      message: "dimension 0 of t is 9007199254740993, past 2^53",
      at: `byte ${infoAt}`,
      hint: undefined,
    });
    const offset = ggufBytes({ tensors: [tensor("t", [1], 0, new Uint8Array(4), 2n ** 53n + 1n)] });
    expect(refusal(offset)).toEqual({
      code: "input.gguf",
      message: "the offset of t is 9007199254740993, past 2^53",
      at: `byte ${infoAt + 8 + 4}`,
      hint: undefined,
    });
    // 2^53 − 1 is a position: read, and then the tensor is too large.
    expect(refusal(ggufBytes({ tensors: [tensor("t", [2n ** 53n - 1n], 0, new Uint8Array(4))] })).code).toBe("unsupported.too_large");
    const far = ggufBytes({ tensors: [tensor("t", [1], 0, new Uint8Array(4), 2n ** 40n)] });
    expect(refusal(far)).toMatchObject({ code: "input.truncated", at: "t" });
  });

  it("refuses metadata it cannot read, at the value", () => {
    const at = 24 + 8 + 1 + 4; // after key "k" and its type
    const typed = (type: number, tail: number[] = []) =>
      new Bytes()
        .raw(ggufBytes({ meta: [["k", scalar("u8", 0)]] }).subarray(0, at - 4))
        .u32(type)
        .raw(tail)
        .done();
    expect(refusal(typed(13, [0]))).toEqual({
      code: "input.gguf",
      message: "k has unknown value type 13",
      at: `byte ${at}`,
      hint: undefined,
    });
    // An array of arrays is refused by its element type (so the reader never meets a nested one).
    const nested = ggufBytes({ meta: [["k", array("array", [array("u8", [1])])]] });
    expect(refusal(nested)).toEqual({ code: "input.gguf", message: "k has elements of type 9", at: `byte ${at}`, hint: undefined });
    const elem = (t: number) => new Bytes().raw(typed(VALUE_TYPE.array)).u32(t).u64(0).raw(new Uint8Array(8)).done();
    expect(refusal(elem(13))).toEqual({ code: "input.gguf", message: "k has elements of type 13", at: `byte ${at}`, hint: undefined });
    // An array longer than the bytes left could hold at its elements' least size (8 for a string's length).
    const long = (of: "u8" | "u16" | "string", n: number) => {
      const b = ggufBytes({ meta: [["k", array(of, [])]] });
      new DataView(b.buffer).setBigUint64(at + 4, BigInt(n), true);
      return b;
    };
    const left = (b: Uint8Array) => b.length - (at + 12);
    const u16s = long("u16", 8);
    expect(left(u16s)).toBe(15); // the padding to 32
    expect(refusal(u16s)).toEqual({
      code: "input.truncated",
      message: "k claims 8 elements, more than the 15 bytes left",
      at: `byte ${at}`,
      hint: "the file is truncated, or the count is wrong",
    });
    expect(read(long("u16", 7)).metadata.get("k")).toEqual([0, 0, 0, 0, 0, 0, 0]);
    expect(refusal(long("string", 2)).message).toBe("k claims 2 elements, more than the 15 bytes left");
    expect(read(long("string", 1)).metadata.get("k")).toEqual([""]);
    expect(read(long("u8", 15)).metadata.get("k")).toEqual(Array(15).fill(0)); // exactly the bytes left
    // An element names its index; a file that ends before the element type or a value's type names them.
    const strings = ggufBytes({ meta: [["k", array("string", ["a", "bc"])]] });
    strings[at + 12 + 9 + 8 + 1] = 0xff;
    expect(refusal(strings)).toEqual({
      code: "input.gguf",
      message: "k[1] is not valid UTF-8",
      at: `byte ${at + 12 + 9}`,
      hint: undefined,
    });
    expect(refusal(typed(VALUE_TYPE.array, [1, 0]))).toMatchObject({
      code: "input.truncated",
      message: "file ends inside the element type of k: needs 4 bytes, 2 left",
    });
    expect(refusal(ggufBytes({ meta: [["k", scalar("u8", 0)]] }).subarray(0, at - 2))).toMatchObject({
      code: "input.truncated",
      message: "file ends inside the type of k: needs 4 bytes, 2 left",
    });
    // Strings: a key and a value that are not UTF-8.
    const badKey = ggufBytes({ meta: [["k", scalar("u8", 0)]] });
    badKey[32] = 0xff;
    expect(refusal(badKey)).toEqual({ code: "input.gguf", message: "metadata key 0 is not valid UTF-8", at: "byte 24", hint: undefined });
    const badValue = ggufBytes({ meta: [["k", scalar("string", "ab")]] });
    badValue[at + 8] = 0xc3;
    expect(refusal(badValue)).toEqual({ code: "input.gguf", message: "k is not valid UTF-8", at: `byte ${at}`, hint: undefined });
    expect(refusal(typed(VALUE_TYPE.u64, [1, 2]))).toMatchObject({
      code: "input.truncated",
      message: "file ends inside k: needs 8 bytes, 2 left",
    });
  });

  it("names the field of a tensor info a file ends in", () => {
    // Two tensors (the count check wants 56 bytes after the header): "a" × 30 from byte 24, then "b": its
    // name's length at 86, name at 94, rank at 95, dimension at 99, type at 107, offset at 111.
    const whole = ggufBytes({ tensors: [tensor("a".repeat(30), [1]), tensor("b", [1])] });
    const cut = (n: number) => refusal(whole.subarray(0, n)).message;
    expect(cut(90)).toBe("file ends inside the length of the name of tensor 1: needs 8 bytes, 4 left");
    expect(cut(97)).toBe("file ends inside the rank of b: needs 4 bytes, 2 left");
    expect(cut(103)).toBe("file ends inside dimension 0 of b: needs 8 bytes, 4 left");
    expect(cut(109)).toBe("file ends inside the type of b: needs 4 bytes, 2 left");
    expect(cut(115)).toBe("file ends inside the offset of b: needs 8 bytes, 4 left");
    const longName = ggufBytes({ tensors: [tensor("a".repeat(30), [1]), tensor("b".repeat(40), [1])] });
    expect(refusal(longName.subarray(0, 100)).message).toBe("file ends inside the name of tensor 1: needs 40 bytes, 6 left");
    // A count of 1 with exactly 28 bytes after the header: past the count check, the file ends inside the offset.
    const exact = new Uint8Array(24 + 28);
    exact.set(ggufBytes({ tensorCount: 1n }).subarray(0, 24));
    exact[24 + 8] = 1; // rank 1, an empty name, dim 0 and type 0 (zeros)
    expect(refusal(exact).message).toBe("file ends inside the offset of : needs 8 bytes, 4 left");
  });

  it("takes general.alignment only as a power of two from 1 to 2^20", () => {
    const align = (v: MetaValue) => ggufBytes({ meta: [["general.alignment", v]] });
    for (const v of [
      scalar("u32", 0),
      scalar("u32", 3),
      scalar("u32", 2 ** 21),
      scalar("f32", 1.5),
      scalar("string", "32"),
      scalar("i32", -32),
    ])
      expect(refusal(align(v))).toEqual({
        code: "input.gguf",
        message: `general.alignment is ${String(v.type === "array" ? "" : v.value)}, not a power of two`,
        at: "byte 0",
        hint: undefined,
      });
    for (const n of [1, 2, 2 ** 20]) expect(read(align(scalar("u32", n))).alignment).toBe(n);
  });

  it("refuses tensor infos it cannot read, naming the tensor", () => {
    const one = (t: TensorInfoOut, extra: TensorInfoOut[] = []) => refusal(ggufBytes({ tensors: [t, ...extra] }));
    const input = (message: string) => ({ code: "input.gguf", message, at: "byte 24", hint: undefined });
    expect(one(tensor("t", []))).toEqual(input("tensor t has 0 dimensions (GGUF allows 1 to 4)"));
    expect(one(tensor("t", [1, 1, 1, 1, 1]))).toEqual(input("tensor t has 5 dimensions (GGUF allows 1 to 4)"));
    expect(one(tensor("t", [4, 0], 0, new Uint8Array(0)))).toEqual(input("tensor t has a dimension of 0 (4 x 0)"));
    expect(one(tensor("t", [16, 2], 8, new Uint8Array(34)))).toEqual(
      input("tensor t's rows of 16 values do not fill whole Q8_0 blocks of 32"),
    );
    expect(one(tensor("t", [1], 0, new Uint8Array(4), 4))).toEqual(input("tensor t's offset 4 is not a multiple of the alignment 32"));
    expect(one(tensor("t", [1]), [tensor("t", [1])])).toEqual({
      ...input("tensor t is described twice"),
      at: `byte ${24 + 8 + 1 + 4 + 8 + 4 + 8}`,
    });
    expect(one(tensor("t", [256], 13, new Uint8Array(176)))).toEqual({
      code: "unsupported.gguf_type",
      message: "tensor t is Q5_K; seec reads F32, F16, BF16, Q8_0, Q4_0, Q4_K and Q6_K",
      at: "t",
      hint: "requantize it with llama.cpp's llama-quantize to Q8_0 or Q4_0",
    });
    expect(one(tensor("t", [1], 99)).message).toBe("tensor t is type 99; seec reads F32, F16, BF16, Q8_0, Q4_0, Q4_K and Q6_K");
    // Up to 2^28 elements (then the data must be in the file); one more is too large.
    expect(one(tensor("t", [2 ** 14, 2 ** 14], 0, new Uint8Array(0)))).toMatchObject({ code: "input.truncated", at: "t" });
    expect(one(tensor("t", [2 ** 14, 2 ** 14 + 1], 0, new Uint8Array(0)))).toEqual({
      code: "unsupported.too_large",
      message: `tensor t has ${2 ** 28 + 2 ** 14} elements; seec reads up to ${2 ** 28}`,
      at: "t",
      hint: undefined,
    });
  });

  it("refuses a tensor whose data runs past the end of the file, saying where", () => {
    const bytes = ggufBytes({ tensors: [tensor("a", [8]), tensor("b", [4])] });
    const cut = bytes.subarray(0, bytes.length - 17); // b's 16 bytes end 16 bytes before the end (its padding after)
    expect(refusal(cut)).toEqual({
      code: "input.truncated",
      message: `tensor b (16 bytes at byte ${bytes.length - 32}) runs past the end of the file (${cut.length} bytes)`,
      at: "b",
      hint: "the file is truncated or its tensor infos are wrong",
    });
  });
});
