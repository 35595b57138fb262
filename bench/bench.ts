// npm run bench -- [--scale standard|large|all] [--duration 10] [--connections 10] [--embedded] [--json] [--peer postgraphile] [--only q2,s1] [--subscribers 1000]
//
// Seeds a throwaway database at each scale, starts the real server exactly as `npm start` does
// (scripts/build.mjs: build dist/ when stale, then `node <SERVER_NODE_ARGS>`) and a hand-written
// baseline (bench/baseline.ts, through tsx), checks every scenario once for a correct answer
// (and that the baseline's is byte-identical), then drives each with autocannon and prints
// req/s, p50/p99, SQL statements per request (counted inside the server), response size, the
// ratio to the baseline, the server's memory (idle after start, and after each of three q2
// runs) and, with --peer postgraphile, the same q0/q1/q2 shapes on PostGraphile 5 over the same
// database. It ends with the issue's targets: each one, the figure measured, met or not.
import { spawn, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import autocannon from "autocannon";
import { ensureBuilt, SERVER_NODE_ARGS } from "../scripts/build.mjs";
import { newSecret } from "../src/core/tokens.js";
import { SYSTEM_ROLES } from "../src/core/permissions.js";
import { openDatabase } from "../src/db/client.js";
import { applyMigrations } from "../src/db/migrate.js";
import { createThrowawayDatabase } from "../test/fixtures/throwaway.js";
import { Q0, Q1, Q2, Q3, Q4, STATEMENT_BUDGET, W1, W2 } from "./queries.js";
import { SHAPES, seedBench, VIEWER_ID_SQL, type Scale } from "./seed.js";
import { freePort } from "./free-port.js";
import { LIVE, liveSubscribers, runLive, type LiveResult } from "./live.js";
import { installPostGraphile, PEER, startPostGraphile, type PeerInstall } from "./peer-postgraphile.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const { values: args } = parseArgs({
  options: {
    scale: { type: "string", default: "all" },
    duration: { type: "string", default: "10" },
    embedded: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
    connections: { type: "string", default: "10" },
    peer: { type: "string" },
    only: { type: "string" },
    subscribers: { type: "string" },
  },
});
/** --only q2,w2: time only these scenarios (every one is still checked once). */
const only = args.only ? new Set(args.only.split(",").map((name) => name.trim())) : null;
const scales: Scale[] = args.scale === "all" ? ["standard", "large"] : [args.scale as Scale];
if (!scales.every((scale) => scale in SHAPES)) throw new Error(`--scale must be standard, large or all (got ${args.scale})`);
if (args.peer !== undefined && args.peer !== "postgraphile") throw new Error(`--peer must be postgraphile (got ${args.peer})`);
if (args.peer && args.embedded) throw new Error("--peer needs PostgreSQL: it can't run with --embedded");
const duration = Number(args.duration);
const connections = Number(args.connections);
const serverUrl = process.env.DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";
const log = (message: string) => process.stderr.write(`${message}\n`);
const gid = (type: string, id: string) => Buffer.from(`${type}:${id}`).toString("base64");
const round1 = (value: number) => Math.round(value * 10) / 10;

/** The issue's goals. */
const GOAL = {
  vsBaseline: 0.5,
  /** r1 (w2 through the Piper REST profile) against w2's req/s. */
  r1VsW2: 0.8,
  q0Statements: 1,
  q3BigOverSmall: 3,
  idleRssMb: 200,
  q2RssMb: 300,
  /** "No growth": the third q2 run ends at most this much above the first. */
  q2RssGrowth: 0.05,
  vsPeer: { q1: 1.5, q2: 2 } as Record<string, number>,
  embeddedStartMs: 5_000,
  /** s1: commit-to-delivery p99, and RSS per 1,000 subscribers. */
  liveP99Ms: 250,
  liveRssPerThousandMb: 100,
};

/** s1 runs in this organization (org-4: the read scenarios don't use it). */
const LIVE_ORG = 4;

interface Proc {
  child: ChildProcess;
  url: string;
  stop(): Promise<void>;
}

const SERVER_LOGS = fs.mkdtempSync(path.join(os.tmpdir(), "membership-bench-logs-"));

/** Starts `node <nodeArgs>` in the repository and waits until `ready` answers (the server: 200 on /readyz; the baseline: anything). */
async function startProcess(nodeArgs: string[], env: Record<string, string>, ready: "/readyz" | "/"): Promise<Proc> {
  const port = await freePort();
  const started = Date.now();
  const child = spawn(process.execPath, nodeArgs, {
    cwd: ROOT,
    env: { ...process.env, ...env, PORT: String(port), HOST: "127.0.0.1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  // Every process's log (warnings and up) is kept for a look after the run: SERVER_LOGS/<pid>.log.
  const logFile = fs.createWriteStream(path.join(SERVER_LOGS, `${child.pid}.log`));
  child.stderr!.on("data", (chunk) => {
    stderr += chunk;
    logFile.write(chunk);
  });
  child.stdout!.pipe(logFile);
  const url = `http://127.0.0.1:${port}`;
  const what = nodeArgs.join(" ");
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${what} exited: ${stderr}`);
    const ok = await fetch(`${url}${ready}`).then((r) => ready !== "/readyz" || r.ok, () => false);
    if (ok) break;
    if (Date.now() - started > 120_000) throw new Error(`${what} did not start: ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    child,
    url,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

/** The server as `npm start` runs it: node with package.json's flags on dist/main.js (built by ensureBuilt before the first start). */
const startServer = (env: Record<string, string>) => startProcess(SERVER_NODE_ARGS, env, "/readyz");

function rssMb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024);
}

interface Scenario {
  name: string;
  query: string;
  variables: () => Record<string, unknown>;
  baseline: boolean;
  /** PostGraphile's document for the same shape, when --peer runs it. */
  peer?: keyof typeof PEER;
  /** A REST route instead of the GraphQL document (r1): check() then gets the JSON body. */
  rest?: () => RestCall;
  check: (data: any) => void;
}

interface RestCall {
  method: string;
  path: string;
  body: unknown;
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
  peerRps: number | null;
  errors: number;
}

interface ScaleMemory {
  /** Right after /readyz answered, before any request but the readiness probes. */
  idleMb: number;
  /** After each of three consecutive q2 runs, once the requests still in flight have finished. */
  afterQ2Mb: number[];
  /** req/s of those three q2 runs. */
  q2Rps: number[];
  peerIdleMb: number | null;
  peerAfterQ2Mb: number | null;
}

async function post(url: string, token: string, query: string, variables: Record<string, unknown>) {
  const response = await fetch(`${url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const text = await response.text();
  return { status: response.status, text, body: JSON.parse(text), bytes: Buffer.byteLength(text), statements: Number(response.headers.get("x-sql-statements") ?? NaN) };
}

/** A REST route, once (r1's check): as post() answers. */
async function postRest(url: string, token: string, call: RestCall) {
  const response = await fetch(`${url}${call.path}`, {
    method: call.method,
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify(call.body),
  });
  const text = await response.text();
  return { status: response.status, text, body: JSON.parse(text), bytes: Buffer.byteLength(text), statements: Number(response.headers.get("x-sql-statements") ?? NaN) };
}

async function load(url: string, token: string, query: string, variables: () => Record<string, unknown>, seconds: number, rest?: () => RestCall) {
  const headers = { "content-type": "application/json", authorization: `Bearer ${token}` };
  const result = await autocannon({
    url: rest ? url : `${url}/graphql`,
    connections,
    duration: seconds,
    requests: [
      rest
        ? {
            headers,
            setupRequest: (request) => {
              const call = rest();
              return { ...request, method: call.method as "PATCH", path: call.path, body: JSON.stringify(call.body) };
            },
          }
        : { method: "POST", headers, setupRequest: (request) => ({ ...request, body: JSON.stringify({ query, variables: variables() }) }) },
    ],
  });
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, errors: result.errors + result.non2xx + result.timeouts };
}

/** CPU seconds the process has used (utime + stime from /proc; clock ticks of 1/100 s). */
function cpuSeconds(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * Waits until the processes are idle (under 5% of a core over 250 ms, at most 60 s). When
 * autocannon stops, the requests still in flight keep running on the server (a q2 takes seconds
 * under load): without this, they would be timed as part of the next run.
 */
async function settle(pids: number[]): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const before = pids.map(cpuSeconds);
    await new Promise((resolve) => setTimeout(resolve, 250));
    if (pids.every((pid, i) => cpuSeconds(pid) - before[i]! < 0.0125)) return;
  }
}

/** A 2 s warm-up (or `duration`, when shorter), then the measured run, each from an idle start. */
async function measure(url: string, token: string, query: string, variables: () => Record<string, unknown>, pids: number[], rest?: () => RestCall) {
  await load(url, token, query, variables, Math.min(2, duration), rest);
  await settle(pids);
  const result = await load(url, token, query, variables, duration, rest);
  await settle(pids);
  return result;
}

async function prepareDatabase(scale: Scale): Promise<{ env: Record<string, string>; token: string; liveTokens: string[]; cleanup: () => Promise<void> }> {
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
  let liveTokens: string[] = [];
  try {
    await applyMigrations(sql);
    log(`seeding ${scale} (${label})`);
    const counts = await seedBench(sql, scale, log);
    log(`  ${counts.organizations.toLocaleString()} organizations, ${counts.users.toLocaleString()} users, ${counts.members.toLocaleString()} memberships`);
    await sql.query(
      `INSERT INTO "ApiToken" (id, "userId", name, "tokenHash", prefix, "createdAt") VALUES (gen_random_uuid(), ${VIEWER_ID_SQL}, 'bench', $1, $2, now())`,
      [secret.hash, secret.displayPrefix],
    );
    if (runsLive(scale)) liveTokens = await liveSubscribers(sql, `md5('o${LIVE_ORG}')::uuid`, LIVE.users);
  } finally {
    sql.release();
    await db.close();
  }
  return { env, token: secret.token, liveTokens, cleanup };
}

/** w1's answers differ only in the new member's id and the address given: compare them without. */
const w1Shape = (text: string) => {
  const parsed = JSON.parse(text);
  const member = parsed.data?.addMember?.member;
  if (member) Object.assign(member, { id: "<id>", user: { ...member.user, email: "<email>" } });
  return JSON.stringify(parsed);
};

/** s1 needs two server processes on one PostgreSQL: the standard scale, not --embedded. */
const runsLive = (scale: Scale) => scale === "standard" && !args.embedded && (!only || only.has("s1"));

async function runScale(scale: Scale, peerInstall: PeerInstall | null): Promise<{ rows: Row[]; memory: ScaleMemory; live: LiveResult | null }> {
  const { env, token, liveTokens, cleanup } = await prepareDatabase(scale);
  // One benchmark user sends thousands of requests a minute: rate limits would measure themselves.
  const serverEnv = { ...env, NODE_ENV: "production", LOG_LEVEL: "warn", SQL_STATEMENTS_HEADER: "1", RATE_LIMITS: "false" };
  const server = await startServer(serverEnv);
  const memory: ScaleMemory = { idleMb: rssMb(server.child.pid!), afterQ2Mb: [], q2Rps: [], peerIdleMb: null, peerAfterQ2Mb: null };
  let baseline: Proc | null = null;
  let peer: Awaited<ReturnType<typeof startPostGraphile>> | null = null;
  const rows: Row[] = [];
  let live: LiveResult | null = null;
  try {
    if (!args.embedded) baseline = await startProcess(["--import", "tsx", "bench/baseline.ts"], { DATABASE_URL: env.DATABASE_URL! }, "/");
    if (peerInstall) {
      log(`${scale}: starting ${peerInstall.name} ${peerInstall.version} (Node ${peerInstall.nodeVersion})`);
      peer = await startPostGraphile(peerInstall, env.DATABASE_URL!, 10);
      memory.peerIdleMb = rssMb(peer.pid);
    }
    const q3Org = scale === "large" ? "org-1" : "org-2";
    const shape = SHAPES[scale];
    let n = 0;
    const runId = randomBytes(3).toString("hex");
    // w2 flips members of org-3 between the member and admin roles (never owners, never the viewer).
    const flipTargets = await (async () => {
      const { body } = await post(server.url, token, `query { organization(slug: "org-3") { id members(first: 40) { edges { node { id user { id } role { key } } } } } }`, {});
      const org3 = Buffer.from(body.data.organization.id, "base64").toString().split(":")[1]!;
      return (body.data.organization.members.edges as any[]).map((edge) => ({ ...edge.node, org3 })).filter((node) => node.role.key !== "owner");
    })();
    const rawUserId = (target: { user: { id: string } }) => Buffer.from(target.user.id, "base64").toString().split(":")[1]!;
    let r = 0;
    const member = flipTargets[0];
    const scenarios: Scenario[] = [
      { name: "q0", query: Q0, variables: () => ({}), baseline: true, peer: "q0", check: (d) => expect(d.__typename === "Query", "q0: __typename") },
      { name: "q1", query: Q1, variables: () => ({ slug: "org-2" }), baseline: true, peer: "q1", check: (d) => expect(d.organization.members.edges.length === 50, "q1: 50 members") },
      {
        name: "q2",
        query: Q2,
        variables: () => ({}),
        baseline: true,
        peer: "q2",
        check: (d) => expect(d.organizations.edges.length === 100 && d.organizations.edges.every((e: any) => e.node.members.edges.length === 50), "q2: 100 organizations × 50 members"),
      },
      {
        name: `q3 (${q3Org}, ${(q3Org === "org-1" ? shape.bigOrgMembers : shape.membersPerOrg).toLocaleString()} members)`,
        query: Q3,
        variables: () => ({ slug: q3Org, search: "user12" }),
        baseline: false,
        check: (d) => expect(d.organization.members.totalCount > 0, "q3: some matches"),
      },
      { name: "q4", query: Q4, variables: () => ({ id: member.id }), baseline: false, check: (d) => expect(d.node?.id === member.id, "q4: the member") },
      {
        name: "w1",
        query: W1,
        variables: () => ({ input: { organizationId: orgGid(2), email: `w1-${runId}-${++n}@bench.example` } }),
        baseline: true,
        check: (d) => expect(d.addMember.member.role.key === "member" && d.addMember.member.user.email.startsWith("w1-"), "w1: added"),
      },
      {
        name: "w2",
        query: W2,
        variables: () => {
          const target = flipTargets[++n % flipTargets.length];
          return { input: { memberId: target.id, roleId: gid("Role", n % 2 ? SYSTEM_ROLES.admin.id : SYSTEM_ROLES.member.id) } };
        },
        baseline: true,
        check: (d) => expect(typeof d.updateMemberRole.member.role.key === "string", "w2: role changed"),
      },
      {
        // w2 through the Piper REST profile: the same change, addressed by the member's user id.
        name: "r1",
        query: "",
        variables: () => ({}),
        baseline: false,
        rest: () => {
          const target = flipTargets[++r % flipTargets.length];
          return { method: "PATCH", path: `/compat/piper/v1/organizations/${target.org3}/members/${rawUserId(target)}`, body: { role_id: r % 2 ? SYSTEM_ROLES.admin.id : SYSTEM_ROLES.member.id } };
        },
        check: (body) => expect(typeof body.role_id === "string" && typeof body.role.name === "string", "r1: role changed"),
      },
    ];

    // Check every scenario once, one request at a time and before any load, so the statement
    // count read from x-sql-statements belongs to that request alone.
    const checks = new Map<string, Awaited<ReturnType<typeof post>>>();
    const pids = [server.child.pid!, ...(baseline ? [baseline.child.pid!] : []), ...(peer ? [peer.pid] : [])];
    for (const scenario of scenarios) {
      const variables = scenario.variables();
      const checked = scenario.rest ? await postRest(server.url, token, scenario.rest()) : await post(server.url, token, scenario.query, variables);
      if (checked.status !== 200 || checked.body.errors) throw new Error(`${scenario.name} failed its check: ${checked.text.slice(0, 500)}`);
      scenario.check(scenario.rest ? checked.body : checked.body.data);
      if (scenario.baseline && baseline) {
        if (scenario.name === "w1") {
          // A second add of the same address is a CONFLICT: the baseline adds another one.
          const same = await post(baseline.url, token, scenario.query, scenario.variables());
          if (w1Shape(same.text) !== w1Shape(checked.text)) throw new Error(`the baseline's w1 answer differs from the service's: ${same.text} vs ${checked.text}`);
        } else {
          // w2: the same change again is a no-op for the baseline; then one the baseline makes first and the service repeats.
          const same = await post(baseline.url, token, scenario.query, variables);
          if (same.text !== checked.text) throw new Error(`the baseline's ${scenario.name} answer differs from the service's: ${same.text.slice(0, 300)} vs ${checked.text.slice(0, 300)}`);
          if (scenario.name === "w2") {
            const next = scenario.variables();
            const first = await post(baseline.url, token, scenario.query, next);
            const again = await post(server.url, token, scenario.query, next);
            if (first.text !== again.text) throw new Error(`the baseline's w2 answer differs from the service's: ${first.text} vs ${again.text}`);
          }
        }
      }
      if (scenario.peer && peer) {
        const document = PEER[scenario.peer];
        const answer = await post(peer.url, token, document.query, document.variables);
        if (answer.status !== 200 || answer.body.errors || !document.check(answer.body.data)) throw new Error(`PostGraphile's ${scenario.name} answer is wrong: ${answer.text.slice(0, 500)}`);
        log(`${scale} ${scenario.name}: PostGraphile answers correctly, ${answer.bytes.toLocaleString()} bytes`);
      }
      checks.set(scenario.name, checked);
      log(`${scale} ${scenario.name}: correct, ${checked.statements} SQL statements, ${checked.bytes.toLocaleString()} bytes`);
    }

    for (const scenario of scenarios) {
      if (only && !only.has(scenario.name.split(" ")[0]!)) continue;
      const checked = checks.get(scenario.name)!;
      let baselineRps: number | null = null;
      let peerRps: number | null = null;
      if (scenario.baseline && baseline) {
        log(`${scale} ${scenario.name}: loading the baseline for ${duration} s`);
        baselineRps = (await measure(baseline.url, token, scenario.query, scenario.variables, pids)).rps;
      }
      if (scenario.peer && peer) {
        const document = PEER[scenario.peer];
        log(`${scale} ${scenario.name}: loading PostGraphile for ${duration} s`);
        peerRps = (await measure(peer.url, token, document.query, () => document.variables, pids)).rps;
        if (scenario.name === "q2") memory.peerAfterQ2Mb = rssMb(peer.pid);
      }
      log(`${scale} ${scenario.name}: loading for ${duration} s`);
      const result = await measure(server.url, token, scenario.query, scenario.variables, pids, scenario.rest);
      rows.push({
        name: scenario.name,
        scale,
        rps: round1(result.rps),
        p50Ms: result.p50,
        p99Ms: result.p99,
        statements: checked.statements,
        bytes: checked.bytes,
        baselineRps: baselineRps === null ? null : round1(baselineRps),
        peerRps: peerRps === null ? null : round1(peerRps),
        errors: result.errors,
      });
      if (scenario.name === "q2") {
        // Three consecutive full q2 runs (the measured one and two more), RSS after each.
        memory.q2Rps.push(round1(result.rps));
        memory.afterQ2Mb.push(rssMb(server.child.pid!));
        for (let run = 2; run <= 3; run++) {
          log(`${scale} q2: run ${run} of 3 for the memory figures`);
          memory.q2Rps.push(round1((await load(server.url, token, scenario.query, scenario.variables, duration)).rps));
          await settle(pids);
          memory.afterQ2Mb.push(rssMb(server.child.pid!));
        }
      }
    }
    if (runsLive(scale)) {
      // A second server on the same database: half of the subscribers on each.
      await baseline?.stop();
      await peer?.stop();
      const second = await startServer(serverEnv);
      try {
        await settle([server.child.pid!, second.child.pid!]);
        live = await runLive({
          urls: [server.url, second.url],
          pids: [server.child.pid!, second.child.pid!],
          tokens: liveTokens,
          ownerToken: token,
          org: orgGid(LIVE_ORG),
          seconds: duration,
          subscribers: args.subscribers ? Number(args.subscribers) : LIVE.subscribers,
          rssMb,
          log,
        });
      } finally {
        await second.stop();
      }
    }
  } finally {
    await server.stop();
    await baseline?.stop();
    await peer?.stop();
    await cleanup();
  }
  return { rows, memory, live };
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
    const first = await startServer({ DATA_DIR: dataDir, LOG_LEVEL: "warn", DATABASE_URL: "" });
    await first.stop();
    const started = Date.now();
    const second = await startServer({ DATA_DIR: dataDir, LOG_LEVEL: "warn", DATABASE_URL: "" });
    const ms = Date.now() - started;
    await second.stop();
    return ms;
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

interface Target {
  target: string;
  scale: Scale | null;
  measured: string;
  /** null: not measured in this run (e.g. only one scale, no baseline with --embedded, no --peer). */
  met: boolean | null;
}

function evaluateTargets(rows: Row[], memory: Record<string, ScaleMemory>, startMs: number, live: LiveResult | null): { targets: Target[]; q3BigOverSmall: number | null } {
  const targets: Target[] = [];
  const find = (scale: Scale, name: string) => rows.find((row) => row.scale === scale && (row.name === name || row.name.startsWith(`${name} `)));
  const percent = (value: number) => `${Math.round(value * 100)}%`;
  const database = args.embedded ? " (embedded)" : "";
  for (const scale of scales) {
    const q0 = find(scale, "q0");
    for (const name of ["q0", "q1", "q2", "w1", "w2"]) {
      const row = find(scale, name);
      if (!row) continue; // not timed (--only)
      const ratio = row.baselineRps ? row.rps / row.baselineRps : null;
      targets.push({
        target: `${name} ≥ ${percent(GOAL.vsBaseline)} of the baseline's req/s`,
        scale,
        measured: ratio === null ? "no baseline (--embedded)" : `${percent(ratio)} (${row.rps.toFixed(1)} vs ${row.baselineRps!.toFixed(1)})`,
        met: ratio === null ? null : ratio >= GOAL.vsBaseline,
      });
    }
    if (q0) targets.push({ target: `q0 ≤ ${GOAL.q0Statements} SQL statement per request`, scale, measured: String(q0.statements), met: q0.statements <= GOAL.q0Statements });
    const r1 = find(scale, "r1");
    const w2 = find(scale, "w2");
    if (r1 && w2) {
      targets.push({ target: `r1 (REST) ≥ ${percent(GOAL.r1VsW2)} of w2's req/s`, scale, measured: `${percent(r1.rps / w2.rps)} (${r1.rps.toFixed(1)} vs ${w2.rps.toFixed(1)})`, met: r1.rps / w2.rps >= GOAL.r1VsW2 });
    }
    const budget = Object.entries(STATEMENT_BUDGET).map(([name, most]) => ({ name, most, row: find(scale, name)! }));
    if (budget.every((b) => b.row)) targets.push({
      target: `SQL statements: ${budget.map((b) => `${b.name} ≤ ${b.most}`).join(", ")}`,
      scale,
      measured: budget.map((b) => b.row.statements).join(", "),
      met: budget.every((b) => b.row.statements <= b.most),
    });
    const m = memory[scale]!;
    targets.push({ target: `server RSS idle after start < ${GOAL.idleRssMb} MB${database}`, scale, measured: `${m.idleMb} MB`, met: m.idleMb < GOAL.idleRssMb });
    if (m.afterQ2Mb.length === 3) targets.push({ target: `server RSS after q2 < ${GOAL.q2RssMb} MB (all three runs)`, scale, measured: `${m.afterQ2Mb.join(" / ")} MB`, met: Math.max(...m.afterQ2Mb) < GOAL.q2RssMb });
    const growth = m.afterQ2Mb[2]! / m.afterQ2Mb[0]! - 1;
    if (m.afterQ2Mb.length === 3) targets.push({
      target: `no RSS growth over three q2 runs (third ≤ first + ${percent(GOAL.q2RssGrowth)})`,
      scale,
      measured: `${growth >= 0 ? "+" : ""}${percent(growth)} (${m.afterQ2Mb[0]} → ${m.afterQ2Mb[2]} MB)`,
      met: growth <= GOAL.q2RssGrowth,
    });
    if (args.peer) {
      for (const name of ["q1", "q2"]) {
        const row = find(scale, name);
        if (!row) continue;
        const ratio = row.peerRps ? row.rps / row.peerRps : null;
        targets.push({
          target: `${name} ≥ ${GOAL.vsPeer[name]}× PostGraphile's req/s`,
          scale,
          measured: ratio === null ? "PostGraphile not measured" : `${ratio.toFixed(2)}× (${row.rps.toFixed(1)} vs ${row.peerRps!.toFixed(1)})`,
          met: ratio === null ? null : ratio >= GOAL.vsPeer[name]!,
        });
      }
    }
  }
  const small = find("standard", "q3");
  const big = find("large", "q3");
  const q3BigOverSmall = small && big && big.rps > 0 ? small.rps / big.rps : null;
  targets.push({
    target: `q3 in the 100,000-member organization within ${GOAL.q3BigOverSmall}× of the 50-member one`,
    scale: null,
    measured: q3BigOverSmall === null ? "needs --scale all" : `${q3BigOverSmall.toFixed(1)}× (${big!.rps.toFixed(1)} vs ${small!.rps.toFixed(1)} req/s)`,
    met: q3BigOverSmall === null ? null : q3BigOverSmall <= GOAL.q3BigOverSmall,
  });
  targets.push({ target: `embedded npm start, second start: /readyz within ${GOAL.embeddedStartMs / 1000} s`, scale: null, measured: `${startMs} ms`, met: startMs <= GOAL.embeddedStartMs });
  if (live) {
    targets.push({ target: `s1: commit-to-delivery p99 < ${GOAL.liveP99Ms} ms (${live.subscribers.toLocaleString("en-US")} subscribers${live.subscribers === LIVE.subscribers ? "" : `; the target is for ${LIVE.subscribers.toLocaleString("en-US")}`})`, scale: "standard", measured: `p50 ${live.p50Ms} ms, p99 ${live.p99Ms} ms`, met: live.p99Ms < GOAL.liveP99Ms });
    targets.push({ target: "s1: no event lost or duplicated", scale: "standard", measured: `${live.warmUp.events + live.events} events; ${live.incomplete} incomplete streams, ${live.duplicates} duplicates`, met: live.events > 0 && live.incomplete === 0 && live.duplicates === 0 });
    targets.push({ target: `s1: RSS < ${GOAL.liveRssPerThousandMb} MB per 1,000 subscribers`, scale: "standard", measured: `${live.rssPerThousandMb} MB (RSS ${live.rssBeforeMb.join(" + ")} → ${live.rssOpenMb.join(" + ")} MB with every stream open, less the young generation's growth to its working size: +${live.youngGrowthMb.join(" + ")} MB)`, met: live.rssPerThousandMb < GOAL.liveRssPerThousandMb });
  }
  return { targets, q3BigOverSmall: q3BigOverSmall === null ? null : Math.round(q3BigOverSmall * 100) / 100 };
}

function table(header: string[], lines: string[][], leftColumns: number): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((line) => line[i]!.length)));
  const format = (cells: string[]) => cells.map((cell, i) => (i < leftColumns ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join("  ").trimEnd();
  return [format(header), widths.map((w) => "-".repeat(w)).join("  "), ...lines.map(format)];
}

// The server runs from dist/, as npm start does: build it first when the sources are newer.
await ensureBuilt();
const peerInstall = args.peer ? installPostGraphile(log) : null;
const all: Row[] = [];
const memory: Record<string, ScaleMemory> = {};
let live: LiveResult | null = null;
for (const scale of scales) {
  const result = await runScale(scale, peerInstall);
  all.push(...result.rows);
  memory[scale] = result.memory;
  live ??= result.live;
}
const startMs = await embeddedSecondStart();
const { targets, q3BigOverSmall } = evaluateTargets(all, memory, startMs, live);
const peerInfo = peerInstall
  ? { name: peerInstall.name, version: peerInstall.version, node: peerInstall.nodeVersion, authentication: false, note: "PostGraphile runs with no authentication or authorization: it checks no token and no permission" }
  : null;

const last = scales.at(-1)!;
if (args.json) {
  process.stdout.write(
    `${JSON.stringify({
      scenarios: all,
      memory,
      // The figures earlier versions printed, for scripts that read them.
      rssMb: memory[last]!.afterQ2Mb[0],
      rssMbAfterSecondQ2: memory[last]!.afterQ2Mb[1],
      q3BigOverSmall,
      embeddedSecondStartMs: startMs,
      live,
      peer: peerInfo,
      targets,
      server: `node ${SERVER_NODE_ARGS.join(" ")}`,
      database: args.embedded ? "embedded" : "postgresql",
      connections,
      durationSeconds: duration,
      node: process.version,
      cpus: os.cpus().length,
    })}\n`,
  );
} else {
  const withPeer = Boolean(peerInstall);
  const header = ["scenario", "scale", "req/s", "p50 ms", "p99 ms", "SQL/req", "bytes", "baseline req/s", "vs baseline", ...(withPeer ? ["PostGraphile req/s", "vs PostGraphile"] : []), "errors"];
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
    ...(withPeer ? [row.peerRps === null ? "-" : row.peerRps.toFixed(1), row.peerRps ? `${(row.rps / row.peerRps).toFixed(2)}×` : "-"] : []),
    String(row.errors),
  ]);
  console.log(
    `\nMembership Graph benchmark — ${args.embedded ? "embedded PGlite" : "PostgreSQL"}, ${connections} connections, ${duration} s per scenario, Node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? "unknown"})`,
  );
  console.log(`server: node ${SERVER_NODE_ARGS.join(" ")} (as npm start); the processes' logs are in ${SERVER_LOGS}${peerInfo ? `; peer: ${peerInfo.name} ${peerInfo.version} on Node ${peerInfo.node}, no authentication` : ""}\n`);
  for (const line of table(header, lines, 2)) console.log(line);
  console.log("");
  for (const [scale, m] of Object.entries(memory)) {
    console.log(
      `server RSS (${scale}): ${m.idleMb} MB idle after start; after three q2 runs ${m.afterQ2Mb.join(" / ")} MB (q2 ${m.q2Rps.join(" / ")} req/s)` +
        (m.peerIdleMb !== null ? `; PostGraphile ${m.peerIdleMb} MB idle, ${m.peerAfterQ2Mb ?? "-"} MB after q2` : ""),
    );
  }
  if (q3BigOverSmall !== null) console.log(`q3: the 50-member organization answers ${q3BigOverSmall.toFixed(1)}× as many req/s as the 100,000-member one`);
  console.log(`embedded database, second start: /readyz answered ${startMs} ms after launch`);
  if (live) {
    console.log(
      `s1: ${live.subscribers.toLocaleString("en-US")} SSE subscribers (${live.users} users) on two servers, ${LIVE.mutationsPerSecond} mutations/s for ${duration} s after ${LIVE.warmUpSeconds} s of warm-up: ${live.events} events, commit-to-delivery p50 ${live.p50Ms} ms, p99 ${live.p99Ms} ms (warm-up, not counted: ${live.warmUp.events} events, p50 ${live.warmUp.p50Ms} ms, p99 ${live.warmUp.p99Ms} ms); ${live.incomplete} incomplete streams, ${live.duplicates} duplicates; RSS ${live.rssBeforeMb.join(" + ")} MB → ${live.rssOpenMb.join(" + ")} MB with every stream open, of which the young generation +${live.youngGrowthMb.join(" + ")} MB (${live.rssPerThousandMb} MB per 1,000 subscribers without it) → ${live.rssAfterMb.join(" + ")} MB after the events`,
    );
  }
  if (peerInfo) console.log(`PostGraphile checks no token and no permission (no auth in its schema): it does less per request than the service and the baseline.`);
  console.log("\nTargets\n");
  const targetLines = targets.map((t) => [t.target, t.scale ?? "both", t.measured, t.met === null ? "not measured" : t.met ? "met" : "not met"]);
  for (const line of table(["target", "scale", "measured", "result"], targetLines, 4)) console.log(line);
}
