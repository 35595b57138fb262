// Generates the Prisma client and the Pothos types into src/generated (git-ignored).
// Stock `prisma generate` first downloads Prisma's schema engine, although generating never
// runs it. Where that download is impossible (no internet), we point
// PRISMA_SCHEMA_ENGINE_BINARY at an executable that exists and generate again: same output.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
let prismaCli;
try {
  prismaCli = require.resolve("prisma/build/index.js");
} catch {
  console.error("generate: the prisma package is not installed; run `npm ci` first");
  process.exit(1);
}

const binDir = join(fileURLToPath(new URL("..", import.meta.url)), "node_modules", ".bin");

function generate(env) {
  return spawnSync(process.execPath, [prismaCli, "generate"], {
    // The pothos generator is a bin of @pothos/plugin-prisma: make node_modules/.bin reachable
    // even when this script is run with plain `node`.
    env: { ...process.env, PATH: `${binDir}${delimiter}${process.env.PATH ?? ""}`, PRISMA_HIDE_UPDATE_MESSAGE: "1", ...env },
    encoding: "utf8",
  });
}

// `--if-missing` (used before start and test): skip when the client is already there.
if (process.argv.includes("--if-missing") && existsSync(new URL("../src/generated/prisma/client.ts", import.meta.url))) {
  process.exit(0);
}

let result = generate({});
const output = `${result.stdout ?? ""}${result.stderr ?? ""}`;
if (result.status !== 0 && /binaries\.prisma\.sh|ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|fetch failed/i.test(output)) {
  console.error("generate: Prisma's schema engine can't be downloaded here; generating offline (the engine is not needed for this step)");
  result = generate({ PRISMA_SCHEMA_ENGINE_BINARY: process.execPath });
}
process.stderr.write(result.stdout ?? ""); // stdout stays clean for `TOKEN=$(npm run -s cli -- …)`
process.stderr.write(result.stderr ?? "");
if (result.status !== 0 || !existsSync(new URL("../src/generated/prisma/client.ts", import.meta.url))) {
  console.error("generate: prisma generate failed (see above)");
  process.exit(result.status || 1);
}
