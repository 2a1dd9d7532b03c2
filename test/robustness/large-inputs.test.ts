// Inputs past the 2 GiB that one Node buffer call takes, exercised without holding them in memory:
// sparse files and generators of zero chunks stand in for multi-GiB checkpoints and weights.
import { execFileSync } from "node:child_process";
import { appendFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { HASH_CHUNK_BYTES, sha256, sha256Chunks } from "../../compiler/artifact.js";
import { tmpDir } from "../helpers/compile.js";

const GiB = 1024 ** 3;

describe("hashing in chunks", () => {
  it("hashes 2.25 GiB produced lazily exactly as sha256sum hashes the same bytes on disk", async () => {
    const zeros = 2.25 * GiB;
    const tail = Buffer.from("seec\n");
    function* chunks(): Generator<Uint8Array> {
      // One chunk larger than HASH_CHUNK_BYTES, so that its split is exercised too; the rest reuse one buffer.
      const big = new Uint8Array(2 * HASH_CHUNK_BYTES + 1);
      yield big;
      const chunk = new Uint8Array(HASH_CHUNK_BYTES);
      let left = zeros - big.byteLength;
      for (; left >= chunk.byteLength; left -= chunk.byteLength) yield chunk;
      yield chunk.subarray(0, left);
      yield tail;
    }
    const dir = await tmpDir();
    const file = join(dir, "weights.bin");
    try {
      writeFileSync(file, "");
      truncateSync(file, zeros);
      appendFileSync(file, tail);
      const expected = execFileSync("sha256sum", [file], { encoding: "utf8" }).split(" ")[0];
      expect(sha256Chunks(chunks())).toBe(expected);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("hashes small buffers and strings as one update does", () => {
    expect(sha256("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(sha256(new TextEncoder().encode("abc"))).toBe(sha256("abc"));
    expect(sha256Chunks([Buffer.from("a"), Buffer.from(""), Buffer.from("bc")])).toBe(sha256("abc"));
  });
});
