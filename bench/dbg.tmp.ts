import { build } from "../compiler/build.js";
const S = "/work/shared/models/llama2c";
try {
  await build({ model: `${S}/stories260K.bin`, tokenizer: `${S}/tok512.bin`, see: "/tmp/s8.see", quantize: "int8", context: 256, target: "mcu", out: "/tmp/mcu1" });
} catch (e) { console.log(e, JSON.stringify(e), Object.keys(e as object)); }
