// npm run bench -- [--scale standard|large|all] [--duration 10] [--embedded] [--json]
//
// Seeds a throwaway database at each scale, starts the real server (same code path as
// `npm start`) and a hand-written baseline, checks every scenario once for a correct answer,
// then drives each with autocannon (10 connections) and prints req/s, p50/p99, SQL statements
// per request (counted inside the server), response size and the ratio to the baseline.
import { spawn, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import autocannon from "autocannon";
import { newSecret } from "../src/core/tokens.js";
import { SYSTEM_ROLES } from "../src/core/permissions.js";
import { openDatabase } from "../src/db/client.js";
import { applyMigrations } from "../src/db/migrate.js";
import { createThrowawayDatabase } from "../test/fixtures/throwaway.js";
import { Q1, Q2, Q3, Q4, W1, W2 } from "./queries.js";
import { SHAPES, seedBench, VIEWER_ID_SQL, type Scale } from "./seed.js";
import { freePort } from "./free-port.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const { values: args } = parseArgs({
  options: {
    scale: { type: "string", default: "all" },
    duration: { type: "string", default: "10" },
    embedded: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
    connections: { type: "string", default: "10" },
  },
});
const scales: Scale[] = args.scale === "all" ? ["standard", "large"] : [args.scale as Scale];
if (!scales.every((scale) => scale in SHAPES)) throw new Error(`--scale must be standard, large or all (got ${args.scale})`);
const duration = Number(args.duration);
const connections = Number(args.connections);
const serverUrl = process.env.DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";
const log = (message: string) => process.stderr.write(`${message}\n`);
const gid = (type: string, id: string) => Buffer.from(`${type}:${id}`).toString("base64");


interface Proc {
  child: ChildProcess;
  url: string;
  stop(): Promise<void>;
}

async function startProcess(script: string, env: Record<string, string>, ready: string): Promise<Proc> {
  const port = await freePort();
  const started = Date.now();
  const child = spawn(process.execPath, ["--import", "tsx", script], {
    cwd: ROOT,
    env: { ...process.env, ...env, PORT: String(port), HOST: "127.0.0.1" },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (chunk) => (stderr += chunk));
  const url = `http://127.0.0.1:${port}`;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${script} exited: ${stderr}`);
    // The server is ready when /readyz says so; the baseline when it answers at all.
    const ok = await fetch(`${url}${ready}`).then((r) => ready !== "/readyz" || r.ok, () => false);
    if (ok) break;
    if (Date.now() - started > 120_000) throw new Error(`${script} did not start: ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    child,
    url,
    stop: () =>
      new Promise((resolve) => {
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

function rssMb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024);
}

interface Scenario {
  name: string;
  query: string;
  variables: () => Record<string, unknown>;
  baseline: boolean;
  check: (data: any) => void;
}

interface Row {
  name: string;
  scale: Scale;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  statements: number;
  bytes: number;
  baselineRps: number | null;
  errors: number;
}

async function post(url: string, token: string, query: string, variables: Record<string, unknown>) {
  const response = await fetch(`${url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const text = await response.text();
  return { status: response.status, body: JSON.parse(text), bytes: Buffer.byteLength(text), statements: Number(response.headers.get("x-sql-statements") ?? NaN) };
}

async function load(url: string, token: string, query: string, variables: () => Record<string, unknown>, seconds: number) {
  const result = await autocannon({
    url: `${url}/graphql`,
    connections,
    duration: seconds,
    requests: [
      {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        setupRequest: (request) => ({ ...request, body: JSON.stringify({ query, variables: variables() }) }),
      },
    ],
  });
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, errors: result.errors + result.non2xx + result.timeouts };
}

async function prepareDatabase(scale: Scale): Promise<{ env: Record<string, string>; token: string; cleanup: () => Promise<void> }> {
  let label = "embedded";
  let env: Record<string, string>;
  let cleanup: () => Promise<void>;
  let db;
  if (args.embedded) {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "membership-bench-"));
    db = await openDatabase({ dataDir });
    env = { DATA_DIR: dataDir, SEED_DEMO: "0" };
    cleanup = async () => fs.rmSync(dataDir, { recursive: true, force: true });
  } else {
    const database = await createThrowawayDatabase(serverUrl, "membership_bench");
    db = await openDatabase({ databaseUrl: database.url, dataDir: "", poolSize: 2 });
    env = { DATABASE_URL: database.url };
    cleanup = database.drop;
    label = database.name;
  }
  const sql = await db.sqlRunner();
  const secret = newSecret();
  try {
    await applyMigrations(sql);
    log(`seeding ${scale} (${label})`);
    const counts = await seedBench(sql, scale, log);
    log(`  ${counts.organizations.toLocaleString()} organizations, ${counts.users.toLocaleString()} users, ${counts.members.toLocaleString()} memberships`);
    await sql.query(
      `INSERT INTO "ApiToken" (id, "userId", name, "tokenHash", prefix, "createdAt") VALUES (gen_random_uuid(), ${VIEWER_ID_SQL}, 'bench', $1, $2, now())`,
      [secret.hash, secret.displayPrefix],
    );
  } finally {
    sql.release();
    await db.close();
  }
  return { env, token: secret.token, cleanup };
}

async function runScale(scale: Scale): Promise<{ rows: Row[]; rssMb: number; rssMbAfterSecondQ2: number }> {
  const { env, token, cleanup } = await prepareDatabase(scale);
  // One benchmark user sends thousands of requests a minute: rate limits would measure themselves.
  const serverEnv = { ...env, NODE_ENV: "production", LOG_LEVEL: "warn", SQL_STATEMENTS_HEADER: "1", RATE_LIMITS: "false" };
  const server = await startProcess("src/main.ts", serverEnv, "/readyz");
  const baseline = args.embedded ? null : await startProcess("bench/baseline.ts", { DATABASE_URL: env.DATABASE_URL! }, "/");
  const rows: Row[] = [];
  let rss = 0;
  let rssAfterSecondQ2 = 0;
  try {
    const q3Org = scale === "large" ? "org-1" : "org-2";
    const shape = SHAPES[scale];
    let n = 0;
    const runId = randomBytes(3).toString("hex");
    // w2 flips members of org-3 between the member and admin roles (never owners, never the viewer).
    const flipTargets = await (async () => {
      const { body } = await post(server.url, token, `query { organization(slug: "org-3") { members(first: 40) { edges { node { id role { key } } } } } }`, {});
      return (body.data.organization.members.edges as any[]).map((edge) => edge.node).filter((node) => node.role.key !== "owner");
    })();
    const member = flipTargets[0];
    const scenarios: Scenario[] = [
      { name: "q1", query: Q1, variables: () => ({ slug: "org-2" }), baseline: true, check: (d) => expect(d.organization.members.edges.length === 50, "q1: 50 members") },
      { name: "q2", query: Q2, variables: () => ({}), baseline: true, check: (d) => expect(d.organizations.edges.length === 100 && d.organizations.edges.every((e: any) => e.node.members.edges.length === 50), "q2: 100 organizations × 50 members") },
      { name: `q3 (${q3Org}, ${(q3Org === "org-1" ? shape.bigOrgMembers : shape.membersPerOrg).toLocaleString()} members)`, query: Q3, variables: () => ({ slug: q3Org, search: "user12" }), baseline: false, check: (d) => expect(d.organization.members.totalCount > 0, "q3: some matches") },
      { name: "q4", query: Q4, variables: () => ({ id: member.id }), baseline: false, check: (d) => expect(d.node?.id === member.id, "q4: the member") },
      { name: "w1", query: W1, variables: () => ({ input: { organizationId: orgGid(2), email: `w1-${runId}-${++n}@bench.example` } }), baseline: true, check: (d) => expect(d.addMember.member.role.key === "member", "w1: added") },
      {
        name: "w2",
        query: W2,
        variables: () => {
          const target = flipTargets[++n % flipTargets.length];
          return { input: { memberId: target.id, roleId: gid("Role", n % 2 ? SYSTEM_ROLES.admin.id : SYSTEM_ROLES.member.id) } };
        },
        baseline: false,
        check: (d) => expect(typeof d.updateMemberRole.member.role.key === "string", "w2: role changed"),
      },
    ];

    // Check every scenario once, one request at a time and before any load, so the statement
    // count read from x-sql-statements belongs to that request alone.
    const checks = new Map<string, Awaited<ReturnType<typeof post>>>();
    for (const scenario of scenarios) {
      const checked = await post(server.url, token, scenario.query, scenario.variables());
      if (checked.status !== 200 || checked.body.errors) throw new Error(`${scenario.name} failed its check: ${JSON.stringify(checked.body).slice(0, 500)}`);
      scenario.check(checked.body.data);
      if (scenario.baseline && baseline && scenario.name !== "w1") {
        const same = await post(baseline.url, token, scenario.query, scenario.variables());
        if (JSON.stringify(same.body) !== JSON.stringify(checked.body)) throw new Error(`the baseline's ${scenario.name} answer differs from the service's`);
      }
      checks.set(scenario.name, checked);
      log(`${scale} ${scenario.name}: correct, ${checked.statements} SQL statements, ${checked.bytes.toLocaleString()} bytes`);
    }

    for (const scenario of scenarios) {
      const checked = checks.get(scenario.name)!;
      let baselineRps: number | null = null;
      if (scenario.baseline && baseline) {
        await load(baseline.url, token, scenario.query, scenario.variables, Math.min(2, duration));
        baselineRps = (await load(baseline.url, token, scenario.query, scenario.variables, duration)).rps;
      }
      log(`${scale} ${scenario.name}: loading for ${duration} s`);
      await load(server.url, token, scenario.query, scenario.variables, Math.min(2, duration)); // warm-up
      const result = await load(server.url, token, scenario.query, scenario.variables, duration);
      rows.push({
        name: scenario.name,
        scale,
        rps: Math.round(result.rps * 10) / 10,
        p50Ms: result.p50,
        p99Ms: result.p99,
        statements: checked.statements,
        bytes: checked.bytes,
        baselineRps: baselineRps === null ? null : Math.round(baselineRps * 10) / 10,
        errors: result.errors,
      });
      if (scenario.name === "q2") {
        rss = rssMb(server.child.pid!);
        await load(server.url, token, scenario.query, scenario.variables, duration);
        rssAfterSecondQ2 = rssMb(server.child.pid!);
      }
    }
  } finally {
    await server.stop();
    await baseline?.stop();
    await cleanup();
  }
  return { rows, rssMb: rss, rssMbAfterSecondQ2: rssAfterSecondQ2 };
}

/** The global ID of org-N: seeded organization ids are md5('o' || N) read as a UUID. */
function orgGid(o: number): string {
  const hex = createHash("md5").update(`o${o}`).digest("hex");
  return gid("Organization", `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`);
}

function expect(condition: boolean, what: string): void {
  if (!condition) throw new Error(`check failed: ${what}`);
}

async function embeddedSecondStart(): Promise<number> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "membership-start-"));
  try {
    const first = await startProcess("src/main.ts", { DATA_DIR: dataDir, LOG_LEVEL: "warn", DATABASE_URL: "" }, "/readyz");
    await first.stop();
    const started = Date.now();
    const second = await startProcess("src/main.ts", { DATA_DIR: dataDir, LOG_LEVEL: "warn", DATABASE_URL: "" }, "/readyz");
    const ms = Date.now() - started;
    await second.stop();
    return ms;
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

const all: Row[] = [];
const rss: Record<string, { rssMb: number; rssMbAfterSecondQ2: number }> = {};
for (const scale of scales) {
  const result = await runScale(scale);
  all.push(...result.rows);
  rss[scale] = { rssMb: result.rssMb, rssMbAfterSecondQ2: result.rssMbAfterSecondQ2 };
}
const startMs = await embeddedSecondStart();

const last = scales.at(-1)!;
if (args.json) {
  process.stdout.write(`${JSON.stringify({ scenarios: all, rssMb: rss[last]!.rssMb, rssMbAfterSecondQ2: rss[last]!.rssMbAfterSecondQ2, rssByScale: rss, embeddedSecondStartMs: startMs, database: args.embedded ? "embedded" : "postgresql", connections, durationSeconds: duration, node: process.version, cpus: os.cpus().length })}\n`);
} else {
  const header = ["scenario", "scale", "req/s", "p50 ms", "p99 ms", "SQL/req", "bytes", "baseline req/s", "vs baseline", "errors"];
  const lines = all.map((row) => [
    row.name,
    row.scale,
    row.rps.toFixed(1),
    String(row.p50Ms),
    String(row.p99Ms),
    String(row.statements),
    row.bytes.toLocaleString("en-US"),
    row.baselineRps === null ? "-" : row.baselineRps.toFixed(1),
    row.baselineRps ? `${Math.round((row.rps / row.baselineRps) * 100)}%` : "-",
    String(row.errors),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((line) => line[i]!.length)));
  const format = (cells: string[]) => cells.map((cell, i) => (i < 2 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join("  ");
  console.log(`\nMembership Graph benchmark — ${args.embedded ? "embedded PGlite" : "PostgreSQL"}, ${connections} connections, ${duration} s per scenario, Node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? "unknown"})\n`);
  console.log(format(header));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const line of lines) console.log(format(line));
  console.log("");
  for (const [scale, value] of Object.entries(rss)) console.log(`server RSS (${scale}): ${value.rssMb} MB after q2, ${value.rssMbAfterSecondQ2} MB after a second q2 run`);
  console.log(`embedded database, second start: /readyz answered ${startMs} ms after launch`);
}
