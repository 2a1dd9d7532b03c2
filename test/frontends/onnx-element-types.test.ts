// ONNX inputs and outputs of the element types seec computes in 32 bits without being int32 or
// float32 (int16, uint16, uint32, uint64, bfloat16) as a user of run() sees them: fed and returned
// in the typed arrays ONNX Runtime's JavaScript API uses, integer results wrapped to their type,
// values beyond int32 refused by name, a Cast to bfloat16 rounded to nearest even and bfloat16
// initializers read bit-exactly; on wasm-simd and, where Dawn finds an adapter, WebGPU. The
// expected values are worked out here, independently of seec's conversions.
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { build } from "../../compiler/build.js";
import { DATA_TYPE_NUMBERS } from "../../compiler/frontends/onnx/tensor.js";
import { load, type Model } from "../../runtime/index.js";
import { nearestBfloat16 } from "../helpers/backend-node-data.js";
import { tmpDir } from "../helpers/compile.js";
import { rejectsSeec } from "../helpers/errors.js";
import { writeGraph, type Attr } from "../helpers/onnx-model.js";
import { nodeWebgpu } from "../helpers/webgpu.js";

const gpu = await nodeWebgpu();

/** 1.0 and -3.140625 as bfloat16 bits, little-endian: an initializer as exporters of bf16 models write them. */
const BF16_WEIGHT = new Uint8Array([0x80, 0x3f, 0x49, 0xc0]);

async function writeModel(shift = "LEFT"): Promise<string> {
  const node = (op: string, inputs: string[], output: string, attrs: Record<string, Attr> = {}) => ({
    op,
    name: output,
    inputs,
    outputs: [output],
    attrs,
  });
  const T = DATA_TYPE_NUMBERS;
  return writeGraph({
    name: "element-types",
    nodes: [
      node("Add", ["s16", "s16"], "s16_sum"),
      node("Mul", ["u16", "u16"], "u16_square"),
      node("BitShift", ["u32", "k32"], "u32_left", { direction: shift }),
      node("BitShift", ["u64", "k64"], "u64_left", { direction: "LEFT" }),
      node("BitShift", ["u64", "k64"], "u64_right", { direction: "RIGHT" }),
      node("Cast", ["f"], "f_bf16", { to: T.bfloat16 }),
      node("Cast", ["f_bf16"], "f_back", { to: T.float32 }),
      node("Cast", ["w"], "w_float", { to: T.float32 }),
      node("Add", ["w_float", "f2"], "w_sum"),
    ],
    constants: { w: { dims: [2], dtype: "bfloat16", raw: BF16_WEIGHT } },
    inputs: { s16: [4], u16: [4], u32: [4], k32: [4], u64: [4], k64: [4], f: [6], f2: [2] },
    inputTypes: { s16: "int16", u16: "uint16", u32: "uint32", k32: "uint32", u64: "uint64", k64: "uint64" },
    outputs: ["s16_sum", "u16_square", "u32_left", "u64_left", "u64_right", "f_bf16", "f_back", "w_sum"],
  });
}

// 1 + 2^-8 is a tie that goes to even (1), 1 + 3·2^-8 a tie that goes up (1 + 2^-6).
const F = [1, 1 + 2 ** -8, 1 + 3 * 2 ** -8, Math.PI, -2.5e-3, 65504];
const FEEDS = {
  s16: Int16Array.of(30000, -30000, 7, -1),
  u16: Uint16Array.of(300, 2, 65535, 0),
  u32: Uint32Array.of(1, 3, 2147483647, 0),
  k32: Uint32Array.of(31, 1, 1, 5),
  u64: BigUint64Array.of(2147483647n, 8n, 1n, 0n),
  k64: BigUint64Array.of(1n, 3n, 0n, 1n),
  f: Float32Array.from(F),
  f2: Float32Array.of(0.5, 0.25),
};

describe("ONNX int16, uint16, uint32, uint64 and bfloat16 through run()", () => {
  let file: string;
  beforeAll(async () => {
    file = await writeModel();
  });

  for (const target of ["wasm-simd", "webgpu"] as const)
    describe.skipIf(target === "webgpu" && !gpu.adapter)(
      target === "webgpu" ? `webgpu (Node, ${gpu.adapter ?? gpu.reason})` : target,
      () => {
        let model: Model;
        beforeAll(async () => {
          const out = join(await tmpDir(), "artifact");
          await build({ model: file, target, out });
          model = await load(out, { webgpu: target === "webgpu" });
          expect(model.backend).toBe(target);
        });

        it("returns each output in ONNX Runtime's typed array for its type, integers wrapped to it", async () => {
          const got = await model.run(FEEDS);
          // int16: 60000 and -60000 wrap to -5536 and 5536.
          expect(got.s16_sum).toEqual(Int16Array.of(-5536, 5536, 14, -2));
          expect(got.s16_sum.type).toBe("int16");
          // uint16: 90000 mod 65536 = 24464; 65535² mod 65536 = 1.
          expect(got.u16_square).toEqual(Uint16Array.of(24464, 4, 1, 0));
          expect(got.u16_square.type).toBe("uint16");
          // uint32: 1 << 31 = 2^31 and (2^31 − 1) << 1 = 2^32 − 2, both past int32.
          expect(got.u32_left).toEqual(Uint32Array.of(2 ** 31, 6, 2 ** 32 - 2, 0));
          expect(got.u32_left.type).toBe("uint32");
          expect(got.u64_left).toEqual(BigUint64Array.of(2n ** 32n - 2n, 64n, 1n, 0n));
          expect(got.u64_right).toEqual(BigUint64Array.of(2n ** 30n - 1n, 1n, 1n, 0n));
          expect(got.u64_right.type).toBe("uint64");
        });

        it("rounds a Cast to bfloat16 to nearest even, and reads a bfloat16 initializer bit for bit", async () => {
          const got = await model.run(FEEDS);
          const rounded = Float32Array.from(F, nearestBfloat16);
          expect([...rounded.slice(0, 3)]).toEqual([1, 1, 1 + 2 ** -6]);
          expect(got.f_bf16).toEqual(rounded);
          expect(got.f_bf16.type).toBe("float32");
          expect(got.f_back).toEqual(rounded);
          expect(got.w_sum).toEqual(Float32Array.of(1.5, -3.140625 + 0.25));
        });

        it("refuses a value beyond int32, naming the input and the element, and the wrong typed array", async () => {
          const big = await rejectsSeec(() => model.run({ ...FEEDS, u32: Uint32Array.of(1, 2, 2 ** 31, 0) }));
          expect([big.code, big.message, big.at]).toEqual([
            "runtime.input",
            'input "u32" holds 2147483648 at [2], beyond the 32-bit range seec computes integers in',
            "u32[2]",
          ]);
          const huge = await rejectsSeec(() => model.run({ ...FEEDS, u64: BigUint64Array.of(0n, 2n ** 40n, 0n, 0n) }));
          expect([huge.code, huge.at]).toEqual(["runtime.input", "u64[1]"]);
          const wrong = await rejectsSeec(() => model.run({ ...FEEDS, s16: Int32Array.of(1, 2, 3, 4) }));
          expect([wrong.code, wrong.message]).toEqual(["runtime.input", 'input "s16" must be a Int16Array, got Int32Array']);
        });
      },
    );

  it("refuses a BitShift whose direction is neither LEFT nor RIGHT, naming the node", async () => {
    const e = await rejectsSeec(async () => build({ model: await writeModel("UP"), target: "wasm-simd", out: join(await tmpDir(), "a") }));
    expect([e.code, e.message, e.at]).toEqual([
      "unsupported.onnx_op",
      'direction is "UP", not "LEFT" or "RIGHT"',
      "node u32_left (BitShift)",
    ]);
  });
});
