// `npm start` runs compiled JavaScript: its prestart (`node scripts/build.mjs --if-stale`) builds
// dist/ when it is missing, cut short or older than a source, and leaves a fresh one alone. Run
// here into a folder of its own, so the dist/ other test files' servers start from is not touched.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { isStale, SERVER_NODE_ARGS } from "../scripts/build.mjs";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const parent = fs.mkdtempSync(path.join(os.tmpdir(), "mg-build-"));
const outdir = path.join(parent, "dist");
const stamp = path.join(outdir, ".built");
afterAll(() => fs.rmSync(parent, { recursive: true, force: true }));

const scripts = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")).scripts as Record<string, string>;

/** The prestart command, pointed at outdir; its stderr (the one-line summary when it built). */
function prestart(): string {
  expect(scripts.prestart).toBe("node scripts/build.mjs --if-stale");
  const result = spawnSync(process.execPath, ["scripts/build.mjs", "--if-stale", "--outdir", outdir], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
  expect(result.status, result.stderr).toBe(0);
  return result.stderr;
}

describe("npm start's build", () => {
  it("starts node with the start script's flags on dist/main.js", () => {
    expect(scripts.start).toBe(`node ${SERVER_NODE_ARGS.join(" ")}`);
    expect(SERVER_NODE_ARGS.at(-1)).toBe("dist/main.js");
  });

  it("builds when there is no build, then not again while it is fresh", () => {
    expect(isStale({ outdir })).toBe(true);
    expect(prestart()).toMatch(/files compiled to .*dist\/ in \d+ ms/);
    // One .js (with its source map) for every source file, the entry point among them.
    expect(fs.existsSync(path.join(outdir, "main.js"))).toBe(true);
    expect(fs.existsSync(path.join(outdir, "db", "client.js.map"))).toBe(true);
    expect(fs.readFileSync(path.join(outdir, "main.js"), "utf8")).not.toMatch(/^import type /m);
    expect(isStale({ outdir })).toBe(false);

    const builtAt = fs.statSync(path.join(outdir, "main.js")).mtimeMs;
    expect(prestart()).toBe("");
    expect(fs.statSync(path.join(outdir, "main.js")).mtimeMs).toBe(builtAt);
  });

  it("rebuilds when a source is newer than the build", () => {
    // As if every source had been saved after the build (the stamp holds the build's start time).
    const longAgo = new Date("2000-01-01T00:00:00Z");
    fs.utimesSync(stamp, longAgo, longAgo);
    fs.writeFileSync(path.join(outdir, "left-over.js"), "");
    expect(isStale({ outdir })).toBe(true);
    expect(prestart()).toMatch(/files compiled/);
    expect(isStale({ outdir })).toBe(false);
    // A new build replaces the folder whole: nothing of the old one stays, no staging folder is left.
    expect(fs.existsSync(path.join(outdir, "left-over.js"))).toBe(false);
    expect(fs.readdirSync(parent)).toEqual(["dist"]);
  });

  it("rebuilds a build that was cut short (no stamp)", () => {
    fs.rmSync(stamp);
    expect(isStale({ outdir })).toBe(true);
    expect(prestart()).toMatch(/files compiled/);
    expect(fs.existsSync(stamp)).toBe(true);
  });
});
