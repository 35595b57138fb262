// The peer row of `npm run bench -- --peer postgraphile`: PostGraphile 5 over the benchmark's own
// database, answering the same q0/q1/q2 shapes in the schema it generates from the tables.
// It is never a dependency of this project: the first run installs it into a folder under the
// system's temp directory (npm install --prefix), and runs it on Node 22 (which PostGraphile 5
// needs) fetched by `npx -p node@22`. PostGraphile there has no authentication and no
// authorization: it answers everyone, so it does less per request than the service.
import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { SYSTEM_ROLES } from "../src/core/permissions.js";
import { freePort } from "./free-port.js";
import { VIEWER_ID_SQL } from "./seed.js";

const VERSION_RANGE = "^5";
const DIR = path.join(os.tmpdir(), "membership-bench-postgraphile-5");
const CLI = path.join(DIR, "node_modules", "postgraphile", "dist", "cli-run.js");
const CONFIG = path.join(DIR, "graphile.config.mjs");
const NPM = process.platform === "win32" ? "npm.cmd" : "npm";
const NPX = process.platform === "win32" ? "npx.cmd" : "npx";

const CONFIG_SOURCE = `// Written by the Membership Graph benchmark (bench/peer-postgraphile.ts).
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { makePgService } from "postgraphile/adaptors/pg";
export default {
  extends: [PostGraphileAmberPreset],
  pgServices: [makePgService({ connectionString: process.env.DATABASE_URL, schemas: ["public"], poolConfig: { max: Number(process.env.POOL_SIZE ?? 10) } })],
  grafserv: { port: Number(process.env.PORT), host: "127.0.0.1", graphiql: false, watch: false },
  grafast: { explain: false },
};
`;

export interface PeerInstall {
  name: string;
  version: string;
  node: string;
  nodeVersion: string;
}

/** Installs PostGraphile 5 (once) and finds Node 22; throws with the reason when either fails. */
export function installPostGraphile(log: (message: string) => void): PeerInstall {
  const manifest = path.join(DIR, "node_modules", "postgraphile", "package.json");
  const installed = () => (fs.existsSync(manifest) ? (JSON.parse(fs.readFileSync(manifest, "utf8")).version as string) : null);
  if (!installed()?.startsWith("5.")) {
    log(`peer: installing postgraphile@${VERSION_RANGE} into ${DIR}`);
    fs.mkdirSync(DIR, { recursive: true });
    if (!fs.existsSync(path.join(DIR, "package.json"))) fs.writeFileSync(path.join(DIR, "package.json"), `{ "private": true, "type": "module" }\n`);
    execFileSync(NPM, ["install", "--prefix", DIR, `postgraphile@${VERSION_RANGE}`, "--no-audit", "--no-fund", "--loglevel=error", "--engine-strict=false"], {
      stdio: ["ignore", "ignore", "inherit"],
    });
  }
  const version = installed();
  if (!version?.startsWith("5.")) throw new Error(`peer: postgraphile 5 did not install into ${DIR} (found ${version ?? "nothing"})`);
  fs.writeFileSync(CONFIG, CONFIG_SOURCE);
  // The node binary npx fetches for node@22, run directly afterwards (no npx in between).
  const node = execFileSync(NPX, ["-y", "-p", "node@22", "node", "-p", "process.execPath"], { encoding: "utf8" }).trim();
  const nodeVersion = execFileSync(node, ["-v"], { encoding: "utf8" }).trim();
  if (!nodeVersion.startsWith("v22.")) throw new Error(`peer: npx -p node@22 gave ${nodeVersion}`);
  return { name: "PostGraphile", version, node, nodeVersion };
}

export interface PeerProcess {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** Starts PostGraphile on a free port over `databaseUrl`; resolves once it answers `{ __typename }`. */
export async function startPostGraphile(install: PeerInstall, databaseUrl: string, poolSize: number): Promise<PeerProcess> {
  const port = await freePort();
  const child = spawn(install.node, [CLI, "-C", CONFIG], {
    cwd: DIR,
    env: { ...process.env, DATABASE_URL: databaseUrl, PORT: String(port), POOL_SIZE: String(poolSize), NODE_ENV: "production", GRAPHILE_ENV: "production" },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (chunk) => (stderr += chunk));
  const url = `http://127.0.0.1:${port}`;
  const started = Date.now();
  for (;;) {
    if (child.exitCode !== null) throw new Error(`PostGraphile exited: ${stderr}`);
    const ok = await fetch(`${url}/graphql`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query: PEER.q0.query }) }).then(
      (response) => response.ok,
      () => false,
    );
    if (ok) break;
    if (Date.now() - started > 120_000) throw new Error(`PostGraphile did not start: ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return {
    url,
    pid: child.pid!,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

/** md5('viewer')::uuid (VIEWER_ID_SQL), in JavaScript: PostGraphile takes the viewer as an argument. */
const VIEWER_ID = (() => {
  if (VIEWER_ID_SQL !== `md5('viewer')::uuid`) throw new Error("bench/seed.ts changed the viewer's id: update bench/peer-postgraphile.ts");
  const hex = createHash("md5").update("viewer").digest("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
})();

const MEMBER = `id status joinedAt roleByRoleId { key name } userByUserId { id email firstName lastName }`;
const MEMBERS = `membersByOrganizationId(first: 50, orderBy: [JOINED_AT_ASC, PRIMARY_KEY_ASC]) { totalCount edges { node { ${MEMBER} } } }`;

export interface PeerDocument {
  query: string;
  variables: Record<string, unknown>;
  check(data: any): boolean;
}

/**
 * The same shapes in PostGraphile's generated schema. Organization.slug has a unique index, not a
 * unique constraint, so PostGraphile offers no organizationBySlug: q1 is a condition on slug. q2
 * is "the organizations the viewer owns": the viewer's active owner memberships, with each
 * organization (the service lists the organizations the viewer can see, which here are the same 100).
 */
export const PEER: Record<"q0" | "q1" | "q2", PeerDocument> = {
  q0: { query: `query Q0 { __typename }`, variables: {}, check: (d) => d.__typename === "Query" },
  q1: {
    query: `query Q1($slug: String!) { allOrganizations(condition: { slug: $slug }, first: 1) { nodes { id name ${MEMBERS} } } }`,
    variables: { slug: "org-2" },
    check: (d) => d.allOrganizations.nodes.length === 1 && d.allOrganizations.nodes[0].membersByOrganizationId.edges.length === 50,
  },
  q2: {
    query: `query Q2($viewer: UUID!, $owner: UUID!) {
  userByRowId(rowId: $viewer) {
    membersByUserId(first: 100, condition: { roleId: $owner, status: ACTIVE }, orderBy: [ORGANIZATION_ID_ASC]) {
      totalCount
      edges { node { organizationByOrganizationId { id name slug ${MEMBERS} } } }
    }
  }
}`,
    variables: { viewer: VIEWER_ID, owner: SYSTEM_ROLES.owner.id },
    check: (d) => {
      const edges = d.userByRowId.membersByUserId.edges as any[];
      return edges.length === 100 && edges.every((edge) => edge.node.organizationByOrganizationId.membersByOrganizationId.edges.length === 50);
    },
  },
};
