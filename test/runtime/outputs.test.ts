// run()'s outputs as ONNX Runtime's tensors give them (.data, .dims, .type) while staying the
// typed arrays callers already index: dims bound to the call's token count, types by element type,
// the extra properties invisible to comparison, copies and JSON; through a worker too.
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { build } from "../../compiler/build.js";
import { load, type Model, type Tensor } from "../../runtime/index.js";
import { tensor } from "../../runtime/tensor.js";
import { compileAndLoad, tmpDir, tokensToOutGraph } from "../helpers/compile.js";
import { LLAMA2C } from "../helpers/shared.js";

describe("run() outputs carry their dims and type", () => {
  let model: Model;
  beforeAll(async () => {
    model = await compileAndLoad(tokensToOutGraph({ family: "encoder", config: { vocabSize: 11 } }));
  });

  it("binds the symbolic dimension to the call's tokens", async () => {
    for (const T of [1, 3, 4]) {
      const { out } = await model.run({ tokens: Int32Array.from({ length: T }, (_, i) => i) });
      expect(out).toBeInstanceOf(Float32Array);
      expect(out.dims).toEqual([T, 3]);
      expect(out.type).toBe("float32");
      expect(out.data).toBe(out);
      expect(out.length).toBe(T * 3);
    }
  });

  it("stays a plain typed array to everything else", async () => {
    const out = (await model.run({ tokens: Int32Array.of(1, 2) })).out as Float32Array;
    expect(Object.keys(out)).toEqual(["0", "1", "2", "3", "4", "5"]);
    expect(JSON.stringify(out)).toBe(JSON.stringify(Float32Array.from(out)));
    expect(out).toEqual(Float32Array.from(out));
    expect(Object.isFrozen((out as Tensor).dims)).toBe(true);
    expect("dims" in out.slice()).toBe(false);
  });

  it("takes inputs as ONNX Runtime's tensors or carrying dims, and refuses dims the model does not take", async () => {
    const ids = Int32Array.of(1, 2, 3);
    const plain = (await model.run({ tokens: ids })).out as Tensor<Float32Array>;
    expect(Array.from((await model.run({ tokens: { data: ids, dims: [3] } })).out as Float32Array)).toEqual(Array.from(plain));
    // An output fed back in carries its dims.
    const carried = (await model.run({ tokens: tensor(ids.slice(), [3]) })).out as Tensor<Float32Array>;
    expect([Array.from(carried), carried.dims]).toEqual([Array.from(plain), [3, 3]]);
    const refusals: [unknown, string][] = [
      [{ data: ids, dims: [1, 3] }, 'input "tokens" has dims [1, 3]; the model takes [T] (T 1 to 4)'],
      [{ data: ids, dims: [4] }, 'input "tokens" has dims [4], which hold 4 elements, not its 3'],
      [{ data: ids, dims: [1.5, 2] }, 'input "tokens" has dims [1.5, 2], which are not whole sizes'],
      [{ data: ids, dims: "3" }, 'input "tokens" has dims 3, which are not a list'],
      [{ data: [1, 2, 3], dims: [3] }, 'input "tokens" must be a Int32Array, got Array'],
    ];
    for (const [feed, message] of refusals) {
      const e = await model.run({ tokens: feed as Int32Array }).catch((x: unknown) => x as { code: string; message: string });
      expect([(e as { code: string }).code, (e as { message: string }).message]).toEqual(["runtime.input", message]);
    }
  });

  it("names each element type as ONNX Runtime does", () => {
    expect(tensor(new BigInt64Array(2), [2]).type).toBe("int64");
    expect(tensor(new Uint8Array(2), [1, 2], true).type).toBe("bool");
    expect(tensor(new Uint8Array(2), [2]).type).toBe("uint8");
    expect(tensor(new Int8Array(1), [1]).type).toBe("int8");
    expect(tensor(new Float64Array(1), [1]).type).toBe("float64");
    expect(tensor(new Int32Array(1), [1]).type).toBe("int32");
  });
});

describe.skipIf(!LLAMA2C)("a decoder's logits, on the main thread and through a worker", () => {
  it("are [1, vocab] float32 both ways", async () => {
    const dir = join(await tmpDir(), "stories");
    await build({ model: LLAMA2C!.model, tokenizer: LLAMA2C!.tokenizer, target: "wasm-simd", out: dir });
    const feeds = { tokens: Int32Array.of(1, 403, 407), pos: Int32Array.of(0) };
    const here = (await (await load(dir)).run(feeds)).logits;
    const worker = await load(dir, { worker: true });
    try {
      const there = (await worker.run(feeds)).logits;
      for (const t of [here, there]) expect([t.dims, t.type, t.data === t]).toEqual([[1, 512], "float32", true]);
      expect(there).toEqual(here);
    } finally {
      worker.dispose();
    }
  }, 60_000);
});
