// Compiles src/ to dist/ (one .js file per .ts file, the same folders, ES modules with source
// maps) for production: `npm start` runs `node dist/main.js`, not the TypeScript through tsx.
//   node scripts/build.mjs                     build
//   node scripts/build.mjs --if-stale          build only when dist/ is missing or older than the sources
//   node scripts/build.mjs --outdir <folder>   somewhere else than dist/ (the build test)
// Type checking is `npm run typecheck`'s job: esbuild only strips the types, in about a second.
// The server's node command line has one home, package.json's "start" script; SERVER_NODE_ARGS
// reads it, so the benchmark, the soak and the process tests start the server as `npm start` does.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SRC = path.join(ROOT, "src");
const DIST = path.join(ROOT, "dist");
/** Written last, with the time the build began: a source saved during a build leaves it stale. */
const STAMP = ".built";

/** What `npm start` passes to node (package.json: `node <flags> dist/main.js`), for the same start elsewhere. */
export const SERVER_NODE_ARGS = (() => {
  const start = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")).scripts.start;
  const [command, ...args] = start.trim().split(/\s+/);
  if (command !== "node" || args.at(-1) !== "dist/main.js") throw new Error(`package.json's start script must be "node <flags> dist/main.js" (got ${start})`);
  return args;
})();

function sources(dir = SRC) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? sources(full) : entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts") ? [full] : [];
  });
}

/** Whether the build in outdir (dist/) is missing, cut short, or older than a source file (or this script). */
export function isStale({ outdir = DIST } = {}) {
  const stamp = path.join(outdir, STAMP);
  if (!fs.existsSync(stamp)) return true;
  const built = fs.statSync(stamp).mtimeMs;
  return [...sources(), fileURLToPath(import.meta.url)].some((file) => fs.statSync(file).mtimeMs > built);
}

/**
 * Builds into a folder of its own beside outdir, then swaps it in: a server running (or starting)
 * from outdir never sees it half-written or deleted, and of two builds at once one wins whole.
 */
export async function build({ quiet = false, outdir = DIST } = {}) {
  const started = new Date();
  // The Prisma client is generated into src/generated (git-ignored): make sure it is there.
  const generated = spawnSync(process.execPath, [path.join(ROOT, "scripts", "generate.mjs"), "--if-missing"], { stdio: "inherit" });
  if (generated.status !== 0) throw new Error("build: generating the Prisma client failed");
  const esbuild = await import("esbuild");
  const entryPoints = sources();
  // Beside outdir, at the same depth: the source maps' relative paths to src/ hold after the rename.
  const staging = `${outdir}.building-${process.pid}`;
  const previous = `${outdir}.previous-${process.pid}`;
  fs.rmSync(staging, { recursive: true, force: true });
  try {
    await esbuild.build({
      entryPoints,
      outdir: staging,
      outbase: SRC,
      format: "esm",
      platform: "node",
      target: "node20",
      sourcemap: "linked",
      bundle: false,
      logLevel: "warning",
    });
    fs.writeFileSync(path.join(staging, STAMP), `${started.toISOString()}\n`);
    fs.utimesSync(path.join(staging, STAMP), started, started);
    try {
      fs.renameSync(outdir, previous);
    } catch (error) {
      if (error.code !== "ENOENT") throw error;
    }
    try {
      fs.renameSync(staging, outdir);
    } catch (error) {
      // Another build swapped its output in first: it is as new as this one.
      if (error.code !== "ENOTEMPTY" && error.code !== "EEXIST") throw error;
    }
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
    fs.rmSync(previous, { recursive: true, force: true });
  }
  if (!quiet) process.stderr.write(`build: ${entryPoints.length} files compiled to ${path.relative(ROOT, outdir) || "."}/ in ${Date.now() - started.getTime()} ms\n`);
}

/** Builds when the build in outdir (dist/) is stale; returns whether it did. */
export async function ensureBuilt(options = {}) {
  if (!isStale(options)) return false;
  await build(options);
  return true;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { "if-stale": { type: "boolean" }, outdir: { type: "string" } } });
  const options = values.outdir ? { outdir: path.resolve(values.outdir) } : {};
  if (values["if-stale"]) await ensureBuilt(options);
  else await build(options);
}
