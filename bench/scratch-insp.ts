import { readOnnx } from "../compiler/frontends/onnx/read.js";
import { readdirSync } from "node:fs";
for (const c of process.argv.slice(3)) {
  const m = await readOnnx(`../shared/onnx/backend-node/${c}/model.onnx`);
  console.log(c, JSON.stringify([...m.opsets]), JSON.stringify(m.nodes.map((n) => [n.op, n.inputs, n.attrs])), JSON.stringify(m.inputs), JSON.stringify(m.outputs), readdirSync(`../shared/onnx/backend-node/${c}/test_data_set_0`).join(","));
}
