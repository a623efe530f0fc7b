// Writes the C2SP CCTV age test vectors (npm package cctv-age, installed by `make test`)
// into a directory, one file per vector, for src/secrets/age_test.cc. Vectors stored
// zlib-compressed ("compressed: zlib") are written decompressed, without that header line,
// so the C++ test needs no zlib. Usage: node cctv_age.mjs OUT_DIR
import * as fs from "node:fs";
import * as path from "node:path";
import * as zlib from "node:zlib";
import * as vectors from "cctv-age";

const out = process.argv[2];
if (!out) {
  console.error("usage: node cctv_age.mjs OUT_DIR");
  process.exit(2);
}
fs.mkdirSync(out, { recursive: true });
let n = 0;
for (const [name, bytes] of Object.entries(vectors)) {
  const buf = Buffer.from(bytes);
  const sep = buf.indexOf("\n\n");
  if (sep < 0) throw new Error(`${name}: no header`);
  const header = buf.subarray(0, sep + 1).toString("utf8");
  let body = buf.subarray(sep + 2);
  const lines = header.split("\n").filter((l) => l !== "");
  const compressed = lines.includes("compressed: zlib");
  if (compressed) body = zlib.inflateSync(body);
  const kept = lines.filter((l) => l !== "compressed: zlib").join("\n") + "\n\n";
  fs.writeFileSync(path.join(out, name), Buffer.concat([Buffer.from(kept), body]));
  n++;
}
console.log(`wrote ${n} vectors to ${out}`);
