// npm run soak -- [--minutes 2] [--connections 20]        (or SOAK_MINUTES=0.5 npm run soak)
//
// A soak test: seeds a throwaway PostgreSQL database (the benchmark's standard data plus a few
// soak users with tokens), starts the real server exactly as `npm start` does (dist/ built when
// stale, then node with package.json's flags on dist/main.js: scripts/build.mjs) on a real socket,
// and drives a mixed workload — 70% reads, 30% writes, by an owner, three admins and a plain
// member — over keep-alive connections for a set time.
// Every interval it prints requests, req/s, p50/p99, errors by code and the server's RSS; at the
// end a VERDICT (no server errors, no RSS growth trend, p99 not rising). Exit code 0 on PASS.
// Writes undo themselves (added members are removed, invitations revoked, roles flip back and
// forth) so the data stays the same size and later minutes are not slower for a fair reason.
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { SYSTEM_ROLES } from "../src/core/permissions.js";
import { openDatabase } from "../src/db/client.js";
import { applyMigrations } from "../src/db/migrate.js";
import { createThrowawayDatabase, type ThrowawayDatabase } from "../test/fixtures/throwaway.js";
import { createApiToken } from "../src/domain/api-tokens.js";
import { ensureBuilt, SERVER_NODE_ARGS } from "../scripts/build.mjs";
import { seedBench, VIEWER_EMAIL } from "./seed.js";
import { freePort } from "./free-port.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const { values: args } = parseArgs({
  options: {
    minutes: { type: "string" },
    connections: { type: "string" },
  },
});
const minutes = Number(args.minutes ?? process.env.SOAK_MINUTES ?? "2");
const connections = Number(args.connections ?? process.env.SOAK_CONNECTIONS ?? "20");
if (!(minutes > 0)) throw new Error(`--minutes / SOAK_MINUTES must be a number above 0 (got ${args.minutes ?? process.env.SOAK_MINUTES})`);
if (!Number.isInteger(connections) || connections < 1) throw new Error(`--connections must be a whole number above 0 (got ${args.connections})`);
const serverUrl = process.env.DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";

const DURATION_MS = Math.round(minutes * 60_000);
/** A line every minute; every 15 s for runs shorter than two minutes. */
const INTERVAL_MS = DURATION_MS >= 120_000 ? 60_000 : 15_000;
/** Requests that finish in the first seconds (JIT, pools, caches filling) count in totals, not in trends. */
const WARMUP_MS = 10_000;
/** RSS is read about 60 times per run, at least every 10 s and at most every second. */
const RSS_EVERY_MS = Math.min(10_000, Math.max(1_000, Math.round(DURATION_MS / 60)));
/** The RSS trend is judged only with at least this long after warm-up (thirds of 20 s or more). */
const RSS_MIN_WINDOW_MS = 60_000;
const CLIENT_TIMEOUT_MS = 30_000;
/** Organizations org-2 … org-21 carry the writes and most reads. */
const ACTIVE_ORGS = Array.from({ length: 20 }, (_, i) => i + 2);
/** Each worker cycles through this many emails of its own for add/remove and invite/revoke: bounded users, no collisions. */
const EMAILS_PER_WORKER = 10;

const log = (message: string) => process.stderr.write(`${message}\n`);
const out = (message = "") => process.stdout.write(`${message}\n`);
const gid = (type: string, id: string) => Buffer.from(`${type}:${id}`).toString("base64");
const md5Uuid = (text: string) => {
  const hex = createHash("md5").update(text).digest("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
};
const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;
const clock = (ms: number) => `${Math.floor(ms / 60_000)}:${String(Math.floor((ms % 60_000) / 1000)).padStart(2, "0")}`;

// ---------------------------------------------------------------------------------------------
// Data: the benchmark's standard scale plus the soak users

interface SoakUser {
  label: string;
  email: string;
  token: string;
  /** May run the write operations in the active organizations (owner or admin there). */
  writes: boolean;
}

const SOAK_USERS = [
  { label: "admin-1", email: "soak-admin-1@bench.example", role: SYSTEM_ROLES.admin.id },
  { label: "admin-2", email: "soak-admin-2@bench.example", role: SYSTEM_ROLES.admin.id },
  { label: "admin-3", email: "soak-admin-3@bench.example", role: SYSTEM_ROLES.admin.id },
  { label: "member", email: "soak-member@bench.example", role: SYSTEM_ROLES.member.id },
] as const;

async function prepareDatabase(database: ThrowawayDatabase): Promise<SoakUser[]> {
  const db = await openDatabase({ databaseUrl: database.url, dataDir: "", poolSize: 2 });
  try {
    const sql = await db.sqlRunner();
    try {
      await applyMigrations(sql);
      log(`seeding standard scale (${database.name})`);
      const counts = await seedBench(sql, "standard", log);
      log(`  ${counts.organizations} organizations, ${counts.users.toLocaleString("en-US")} users, ${counts.members.toLocaleString("en-US")} memberships`);
      // The soak users hold their role in every active organization (the bench viewer owns them all).
      for (const user of SOAK_USERS) {
        await sql.exec(`
          INSERT INTO "User" (id, email, "firstName", "lastName", status, "createdAt", "updatedAt")
          VALUES (md5('${user.email}')::uuid, '${user.email}', 'Soak', '${user.label}', 'ACTIVE', now(), now());
          INSERT INTO "UserEmail" (id, "userId", email, "isPrimary", "isVerified", "verifiedAt", "verifiedEmail", "createdAt")
          VALUES (gen_random_uuid(), md5('${user.email}')::uuid, '${user.email}', true, true, now(), '${user.email}', now());
          INSERT INTO "Member" (id, "organizationId", "userId", "roleId", status, "joinedAt", "createdAt", "updatedAt")
          SELECT gen_random_uuid(), md5('o' || o)::uuid, md5('${user.email}')::uuid, '${user.role}', 'ACTIVE', now(), now(), now()
            FROM unnest(ARRAY[${ACTIVE_ORGS.join(",")}]) AS o;`);
      }
      await sql.exec("ANALYZE");
    } finally {
      sql.release();
    }
    // Tokens through the domain function, exactly as `npm run cli -- create-token` makes them.
    const viewer = await db.prisma.user.findUniqueOrThrow({ where: { email: VIEWER_EMAIL } });
    const users: SoakUser[] = [{ label: "owner", email: VIEWER_EMAIL, token: (await createApiToken(db.prisma, viewer.id, { name: "soak" })).token, writes: true }];
    for (const user of SOAK_USERS) {
      const row = await db.prisma.user.findUniqueOrThrow({ where: { email: user.email } });
      const { token } = await createApiToken(db.prisma, row.id, { name: "soak" });
      users.push({ label: user.label, email: user.email, token, writes: user.role !== SYSTEM_ROLES.member.id });
    }
    return users;
  } finally {
    await db.close();
  }
}

// ---------------------------------------------------------------------------------------------
// The server process

interface Server {
  child: ChildProcess;
  host: string;
  port: number;
  exited: Promise<number | null>;
  /** The last lines the server wrote (stdout and stderr). */
  tail(): string[];
  /** Log lines at pino level error (50) or fatal (60). */
  errorLines(): number;
  stop(): Promise<number | null>;
}

async function startServer(databaseUrl: string): Promise<Server> {
  await ensureBuilt();
  const port = await freePort();
  const host = "127.0.0.1";
  const child = spawn(process.execPath, SERVER_NODE_ARGS, {
    cwd: ROOT,
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      MIGRATE_ON_START: "1",
      SEED_DEMO: "0",
      PORT: String(port),
      HOST: host,
      LOG_LEVEL: "warn",
      NODE_ENV: "production",
      // Five users sending hundreds of requests a second each: rate limits would measure themselves.
      RATE_LIMITS: "false",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: string[] = [];
  let errorLines = 0;
  let partial = "";
  const collect = (chunk: Buffer) => {
    const parts = (partial + chunk.toString("utf8")).split("\n");
    partial = parts.pop()!;
    for (const line of parts) {
      if (/"level":(50|60)\b/.test(line)) errorLines++;
      lines.push(line);
      if (lines.length > 40) lines.shift();
    }
  };
  child.stdout!.on("data", collect);
  child.stderr!.on("data", collect);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const tail = () => (partial ? [...lines, partial] : [...lines]);

  const started = Date.now();
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited (code ${child.exitCode}):\n${tail().join("\n")}`);
    const ready = await fetch(`http://${host}:${port}/readyz`).then((r) => r.ok, () => false);
    if (ready) {
      return {
        child,
        host,
        port,
        exited,
        tail,
        errorLines: () => errorLines,
        stop: async () => {
          if (child.exitCode !== null) return child.exitCode;
          child.kill("SIGTERM");
          const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
          const code = await exited;
          clearTimeout(timer);
          return code;
        },
      };
    }
    if (Date.now() - started > 120_000) {
      child.kill("SIGKILL");
      throw new Error(`the server did not become ready within 120 s:\n${tail().join("\n")}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The server's resident set in MB: /proc/<pid>/status VmRSS, else GET /metrics. */
async function readRssMb(server: Server): Promise<number | null> {
  try {
    const status = fs.readFileSync(`/proc/${server.child.pid}/status`, "utf8");
    const kb = /VmRSS:\s+(\d+)\s+kB/.exec(status);
    if (kb) return Number(kb[1]) / 1024;
  } catch {
    // no /proc: try the metrics endpoint
  }
  try {
    const text = await (await fetch(`http://${server.host}:${server.port}/metrics`)).text();
    const bytes = /^process_resident_memory_bytes\s+(\S+)/m.exec(text);
    if (bytes) return Number(bytes[1]) / 1024 / 1024;
  } catch {
    // neither
  }
  return null;
}

/** CPU seconds (user + system) the process has used, from /proc/<pid>/stat; null where there is no /proc. */
function readCpuSeconds(pid: number): number | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after "(comm)": state is field 3, utime 14 and stime 15, in clock ticks (100 a second on Linux).
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP: one keep-alive agent, as many sockets as workers

interface Answer {
  status: number;
  body: any;
}

class TransportError extends Error {
  constructor(readonly code: string) {
    super(code);
  }
}

function makeClient(server: Server) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections });
  const post = (token: string, query: string, variables: Record<string, unknown>): Promise<Answer> =>
    new Promise((resolve, reject) => {
      const body = JSON.stringify({ query, variables });
      const request = http.request(
        {
          host: server.host,
          port: server.port,
          path: "/graphql",
          method: "POST",
          agent,
          headers: {
            "content-type": "application/json",
            accept: "application/json",
            "content-length": Buffer.byteLength(body),
            authorization: `Bearer ${token}`,
          },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.on("error", (error: NodeJS.ErrnoException) => reject(new TransportError(error.code ?? error.name)));
          response.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            let parsed: any = null;
            try {
              parsed = JSON.parse(text);
            } catch {
              // a non-JSON body (a proxy's error page, a cut-off answer): the status tells
            }
            resolve({ status: response.statusCode ?? 0, body: parsed });
          });
        },
      );
      request.setTimeout(CLIENT_TIMEOUT_MS, () => request.destroy(new TransportError("CLIENT_TIMEOUT")));
      request.on("error", (error: NodeJS.ErrnoException) => reject(error instanceof TransportError ? error : new TransportError(error.code ?? error.name)));
      request.end(body);
    });
  return { post, close: () => agent.destroy() };
}

// ---------------------------------------------------------------------------------------------
// Measurements

interface Bucket {
  latencies: number[];
  errors: Map<string, number>;
}

const newBucket = (): Bucket => ({ latencies: [], errors: new Map() });
const addError = (errors: Map<string, number>, code: string, n = 1) => errors.set(code, (errors.get(code) ?? 0) + n);

function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

function summarize(latencies: number[]) {
  const sorted = Float64Array.from(latencies).sort();
  const list = Array.from(sorted);
  return { count: list.length, p50: percentile(list, 0.5), p99: percentile(list, 0.99) };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const formatErrors = (errors: Map<string, number>) =>
  errors.size === 0 ? "none" : [...errors].sort((a, b) => b[1] - a[1]).map(([code, n]) => `${code}×${n}`).join(" ");
const ms = (value: number) => (Number.isNaN(value) ? "-" : value < 10 ? value.toFixed(1) : value.toFixed(0));

// ---------------------------------------------------------------------------------------------
// The workload

const VIEWER = `query SoakViewer {
  viewer {
    id email name
    memberships(first: 20) { totalCount edges { node { status role { key name } organization { slug name } } } }
  }
}`;

const ORGANIZATIONS = `query SoakOrganizations {
  organizations(first: 10, orderBy: { field: NAME, direction: ASC }) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node {
      id slug name memberCount viewerPermissions
      viewerMembership { role { key } }
      roles(first: 20) { totalCount edges { node { key name permissions memberCount } } }
      members(first: 10) { totalCount edges { node { id status role { key } user { email name } } } }
    } }
  }
}`;

const MEMBERS_PAGE = `query SoakMembers($slug: String!, $after: String, $orderBy: MemberOrder, $status: MemberStatus) {
  organization(slug: $slug) {
    id name
    members(first: 25, after: $after, orderBy: $orderBy, filter: { status: $status }) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { node {
        id status joinedAt isPrimary publicMetadata
        user { id email name }
        role { key name }
        viewerCan { updateRole remove }
      } }
    }
  }
}`;

const MEMBER_SEARCH = `query SoakSearch($slug: String!, $search: String!) {
  organization(slug: $slug) {
    members(first: 20, filter: { search: $search }) {
      totalCount
      edges { node { id user { email firstName lastName } role { key } } }
    }
  }
}`;

const MEMBER_BY_ID = `query SoakMember($id: ID!) {
  node(id: $id) {
    ... on Member { id status joinedAt version role { key name permissions } user { email name } organization { slug } }
  }
}`;

const ROLES = `query SoakRoles($slug: String!) {
  organization(slug: $slug) {
    roles(first: 20) { totalCount edges { node { id key name description permissions isSystem memberCount } } }
  }
}`;

const ADD_MEMBER = `mutation SoakAddMember($input: AddMemberInput!) {
  addMember(input: $input) { member { id role { key } user { email } } }
}`;

const REMOVE_MEMBER = `mutation SoakRemoveMember($input: RemoveMemberInput!) {
  removeMember(input: $input) { removedMemberId }
}`;

const UPDATE_MEMBER_ROLE = `mutation SoakUpdateMemberRole($input: UpdateMemberRoleInput!) {
  updateMemberRole(input: $input) { member { id version role { key } } }
}`;

const UPDATE_MEMBER = `mutation SoakUpdateMember($input: UpdateMemberInput!) {
  updateMember(input: $input) { member { id version publicMetadata } }
}`;

const CREATE_INVITATION = `mutation SoakCreateInvitation($input: CreateInvitationInput!) {
  createInvitation(input: $input) { invitation { id status email } token }
}`;

const REVOKE_INVITATION = `mutation SoakRevokeInvitation($input: RevokeInvitationInput!) {
  revokeInvitation(input: $input) { invitation { id status } }
}`;

const UPDATE_ORGANIZATION = `mutation SoakUpdateOrganization($input: UpdateOrganizationInput!) {
  updateOrganization(input: $input) { organization { id version publicMetadata } }
}`;

interface Org {
  slug: string;
  id: string;
  /** Every seeded member read at the start, for node(id:). */
  memberIds: string[];
  /** Active seeded members holding member or admin (never an owner, never a soak user): their role flips. */
  flipTargets: string[];
}

/** One request of an operation: sent, timed and recorded by the runner. */
type Send = (token: string, query: string, variables: Record<string, unknown>) => Promise<Answer>;

interface Operation {
  name: string;
  kind: "read" | "write";
  /** Relative frequency of the operation (each request of a two-request operation counts in the 70/30 mix). */
  weight: number;
  run(send: Send, ctx: { worker: number; sequence: number }): Promise<void>;
}

const SEARCH_TERMS = ["user1", "user23", "user456", "first12", "last9", "First33", "LAST100", "user4999", "nobody-matches"];
const ORDER_FIELDS = ["JOINED_AT", "EMAIL", "FIRST_NAME", "LAST_NAME"];

function workload(users: SoakUser[], orgs: Org[]): Operation[] {
  const writers = users.filter((user) => user.writes);
  const anyUser = () => pick(users);
  const adminRole = gid("Role", SYSTEM_ROLES.admin.id);
  const memberRole = gid("Role", SYSTEM_ROLES.member.id);
  const workerEmail = (kind: string, worker: number, sequence: number) => `soak-${kind}-w${worker}-${sequence % EMAILS_PER_WORKER}@bench.example`;
  return [
    // Reads: 70 of every 100 requests.
    { name: "viewer", kind: "read", weight: 15, run: (send) => send(anyUser().token, VIEWER, {}).then(() => undefined) },
    { name: "organizations", kind: "read", weight: 10, run: (send) => send(anyUser().token, ORGANIZATIONS, {}).then(() => undefined) },
    {
      name: "members page",
      kind: "read",
      weight: 15,
      run: async (send) => {
        // Page one, and half the time page two with the cursor page one gave.
        const user = anyUser();
        const variables = { slug: pick(orgs).slug, orderBy: { field: pick(ORDER_FIELDS), direction: pick(["ASC", "DESC"]) }, status: Math.random() < 0.5 ? "ACTIVE" : null };
        const first = await send(user.token, MEMBERS_PAGE, variables);
        const pageInfo = first.body?.data?.organization?.members?.pageInfo;
        if (pageInfo?.hasNextPage && Math.random() < 0.5) await send(user.token, MEMBERS_PAGE, { ...variables, after: pageInfo.endCursor });
      },
    },
    { name: "member search", kind: "read", weight: 10, run: (send) => send(anyUser().token, MEMBER_SEARCH, { slug: pick(orgs).slug, search: pick(SEARCH_TERMS) }).then(() => undefined) },
    { name: "member by id", kind: "read", weight: 10, run: (send) => send(anyUser().token, MEMBER_BY_ID, { id: pick(pick(orgs).memberIds) }).then(() => undefined) },
    { name: "roles", kind: "read", weight: 10, run: (send) => send(anyUser().token, ROLES, { slug: pick(orgs).slug }).then(() => undefined) },
    // Writes: 30 of every 100 requests, by the owner and the admins.
    {
      name: "addMember+removeMember",
      kind: "write",
      weight: 4, // two requests each
      run: async (send, { worker, sequence }) => {
        const user = pick(writers);
        const added = await send(user.token, ADD_MEMBER, { input: { organizationId: pick(orgs).id, email: workerEmail("member", worker, sequence) } });
        const memberId = added.body?.data?.addMember?.member?.id;
        if (memberId) await send(user.token, REMOVE_MEMBER, { input: { memberId } });
      },
    },
    {
      name: "updateMemberRole",
      kind: "write",
      weight: 6,
      run: (send) => send(pick(writers).token, UPDATE_MEMBER_ROLE, { input: { memberId: pick(pick(orgs).flipTargets), roleId: Math.random() < 0.5 ? adminRole : memberRole } }).then(() => undefined),
    },
    {
      name: "updateMember",
      kind: "write",
      weight: 2,
      run: (send, { worker, sequence }) =>
        send(pick(writers).token, UPDATE_MEMBER, { input: { memberId: pick(pick(orgs).flipTargets), publicMetadata: { soak: { worker, sequence } } } }).then(() => undefined),
    },
    {
      name: "createInvitation+revokeInvitation",
      kind: "write",
      weight: 4, // two requests each
      run: async (send, { worker, sequence }) => {
        const user = pick(writers);
        const created = await send(user.token, CREATE_INVITATION, { input: { organizationId: pick(orgs).id, email: workerEmail("invitee", worker, sequence), expiresInDays: 7 } });
        const invitationId = created.body?.data?.createInvitation?.invitation?.id;
        if (invitationId) await send(user.token, REVOKE_INVITATION, { input: { invitationId } });
      },
    },
    {
      name: "updateOrganization",
      kind: "write",
      weight: 6,
      run: (send, { worker, sequence }) =>
        send(pick(writers).token, UPDATE_ORGANIZATION, { input: { organizationId: pick(orgs).id, publicMetadata: { soak: { worker, sequence } } } }).then(() => undefined),
    },
  ];
}

/** Reads the active organizations' ids and members once, as the owner. */
async function discoverOrganizations(post: Send, owner: SoakUser): Promise<Org[]> {
  const orgs: Org[] = [];
  const soakEmails = new Set(SOAK_USERS.map((user) => user.email));
  for (const n of ACTIVE_ORGS) {
    const slug = `org-${n}`;
    const answer = await post(owner.token, `query($slug: String!) { organization(slug: $slug) { id members(first: 100) { edges { node { id status role { key } user { email } } } } } }`, { slug });
    const organization = answer.body?.data?.organization;
    if (answer.status !== 200 || !organization) throw new Error(`could not read ${slug}: ${answer.status} ${JSON.stringify(answer.body).slice(0, 300)}`);
    if (organization.id !== gid("Organization", md5Uuid(`o${n}`))) throw new Error(`${slug} has an unexpected id`);
    const members = (organization.members.edges as any[]).map((edge) => edge.node);
    orgs.push({
      slug,
      id: organization.id,
      memberIds: members.map((member) => member.id),
      flipTargets: members
        .filter((member) => member.status === "ACTIVE" && ["member", "admin"].includes(member.role.key) && !soakEmails.has(member.user.email))
        .map((member) => member.id),
    });
  }
  return orgs;
}

// ---------------------------------------------------------------------------------------------
// The run

interface OperationStats {
  requests: number;
  latencies: number[];
  errors: Map<string, number>;
}

async function main(): Promise<number> {
  const database = await createThrowawayDatabase(serverUrl, "membership_soak");
  let server: Server | null = null;
  let client: ReturnType<typeof makeClient> | null = null;
  const cleanup = async () => {
    client?.close();
    const code = server ? await server.stop() : null;
    await database.drop();
    return code;
  };
  // Ctrl-C: the load stops, the report so far is printed, the server stops and the database is
  // dropped; a second Ctrl-C leaves at once.
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    log("interrupted: finishing in-flight requests, then stopping the server and dropping the database (Ctrl-C again to leave now)");
  };
  const notInterrupted = () => {
    if (interrupted) throw new Error("interrupted before the load started");
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  try {
    const users = await prepareDatabase(database);
    notInterrupted();
    server = await startServer(database.url);
    notInterrupted();
    client = makeClient(server);
    const owner = users[0]!;
    const orgs = await discoverOrganizations(client.post, owner);
    const operations = workload(users, orgs);

    // Every operation once before the clock starts: a broken document fails here, not as noise.
    for (const operation of operations) {
      const problems: string[] = [];
      await operation.run(async (token, query, variables) => {
        const answer = await client!.post(token, query, variables);
        if (answer.status !== 200 || answer.body?.errors) problems.push(`${answer.status} ${JSON.stringify(answer.body).slice(0, 400)}`);
        return answer;
      }, { worker: 0, sequence: 0 });
      if (problems.length) throw new Error(`${operation.name} failed its check: ${problems.join("; ")}`);
    }
    log(`checked ${operations.length} operations; server pid ${server.child.pid} on port ${server.port} (node ${SERVER_NODE_ARGS.join(" ")}, as npm start)`);
    notInterrupted();

    const totalWeight = operations.reduce((sum, operation) => sum + operation.weight, 0);
    const chooseOperation = () => {
      let roll = Math.random() * totalWeight;
      for (const operation of operations) if ((roll -= operation.weight) < 0) return operation;
      return operations.at(-1)!;
    };

    const intervals = Math.ceil(DURATION_MS / INTERVAL_MS);
    const buckets = Array.from({ length: intervals }, newBucket);
    /** Requests finished after warm-up and before the first interval's end: the p99 baseline. */
    const baseline: number[] = [];
    const byOperation = new Map<string, OperationStats>(operations.map((operation) => [operation.name, { requests: 0, latencies: [], errors: new Map() }]));
    const totalErrors = new Map<string, number>();
    let reads = 0;
    let writes = 0;
    const rss: { atMs: number; mb: number }[] = [];
    let serverDied = false;
    void server.exited.then(() => (serverDied = true));

    out(
      `Membership Graph soak — PostgreSQL (${database.name}), ${connections} connections, ${minutes} min (${DURATION_MS / 1000} s), ` +
        `a line every ${INTERVAL_MS / 1000} s, warm-up ${WARMUP_MS / 1000} s, Node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? "unknown"})`,
    );
    const loadAverage = () => os.loadavg().map((value) => value.toFixed(2)).join(" ");
    out(`machine load average at start: ${loadAverage()} (1, 5, 15 min; other processes on this machine slow every number below)`);
    out(
      `workload: 70% reads (viewer, organizations with roles and members, members pages, member search, member by id, roles), ` +
        `30% writes (addMember+removeMember, updateMemberRole, updateMember, createInvitation+revokeInvitation, updateOrganization); ` +
        `${users.length} users (${users.map((user) => user.label).join(", ")}), ${orgs.length} active organizations; rate limits off`,
    );
    out();
    const header = ["until", "requests", "req/s", "p50 ms", "p99 ms", "RSS MB", "CPU %", "errors by code"];
    const widths = [6, 9, 8, 7, 7, 7, 6, 0];
    const row = (cells: string[]) => cells.map((cell, i) => (i === cells.length - 1 ? cell : i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join("  ");
    out(row(header));

    const start = performance.now();
    const elapsed = () => performance.now() - start;
    const sampleRss = async () => {
      const mb = server ? await readRssMb(server) : null;
      if (mb !== null) rss.push({ atMs: elapsed(), mb });
      return mb;
    };
    await sampleRss();
    const rssTimer = setInterval(() => void sampleRss(), RSS_EVERY_MS);

    const record = (operation: Operation, latency: number, doneAt: number, codes: string[]) => {
      const index = Math.min(intervals - 1, Math.floor(doneAt / INTERVAL_MS));
      const bucket = buckets[index]!;
      bucket.latencies.push(latency);
      if (doneAt >= WARMUP_MS && doneAt < INTERVAL_MS) baseline.push(latency);
      const stats = byOperation.get(operation.name)!;
      stats.requests++;
      stats.latencies.push(latency);
      if (operation.kind === "read") reads++;
      else writes++;
      for (const code of codes) {
        addError(bucket.errors, code);
        addError(totalErrors, code);
        addError(stats.errors, code);
      }
    };

    let printed = 0;
    let cpuAt = { seconds: readCpuSeconds(server.child.pid!), atMs: elapsed() };
    const printInterval = async (index: number) => {
      const bucket = buckets[index]!;
      const from = index * INTERVAL_MS;
      const to = Math.min(DURATION_MS, (index + 1) * INTERVAL_MS, interrupted ? elapsed() : Infinity);
      const { count, p50, p99 } = summarize(bucket.latencies);
      const mb = await sampleRss();
      // The server's CPU use since the last line, in % of one core (Node runs JavaScript on one).
      const cpuNow = { seconds: readCpuSeconds(server!.child.pid!), atMs: elapsed() };
      const cpu = cpuNow.seconds === null || cpuAt.seconds === null ? "-" : (((cpuNow.seconds - cpuAt.seconds) / ((cpuNow.atMs - cpuAt.atMs) / 1000)) * 100).toFixed(0);
      cpuAt = cpuNow;
      out(row([clock(to), String(count), (count / ((to - from) / 1000)).toFixed(1), ms(p50), ms(p99), mb === null ? "-" : mb.toFixed(0), cpu, formatErrors(bucket.errors)]));
    };
    const tick = setInterval(() => {
      if (printed < intervals - 1 && elapsed() >= (printed + 1) * INTERVAL_MS) void printInterval(printed++);
    }, 200);

    const worker = async (id: number) => {
      let sequence = 0;
      while (elapsed() < DURATION_MS && !serverDied && !interrupted) {
        const operation = chooseOperation();
        const send: Send = async (token, query, variables) => {
          const sentAt = elapsed();
          let answer: Answer;
          try {
            answer = await client!.post(token, query, variables);
          } catch (error) {
            const doneAt = elapsed();
            record(operation, doneAt - sentAt, doneAt, [`NET ${error instanceof TransportError ? error.code : String(error)}`]);
            // No hot loop against a server that is gone or refusing connections.
            await new Promise((resolve) => setTimeout(resolve, 100));
            return { status: 0, body: null };
          }
          const doneAt = elapsed();
          const codes: string[] = [];
          if (answer.status !== 200) codes.push(`HTTP ${answer.status}`);
          else if (Array.isArray(answer.body?.errors)) for (const code of new Set<string>(answer.body.errors.map((e: any) => String(e?.extensions?.code ?? "NO_CODE")))) codes.push(code);
          else if (!answer.body?.data) codes.push("NO_DATA");
          record(operation, doneAt - sentAt, doneAt, codes);
          return answer;
        };
        await operation.run(send, { worker: id, sequence: sequence++ });
      }
    };
    await Promise.all(Array.from({ length: connections }, (_, i) => worker(i)));
    const loadMs = elapsed();
    clearInterval(tick);
    clearInterval(rssTimer);
    const lastIndex = interrupted ? Math.min(intervals - 1, Math.floor(loadMs / INTERVAL_MS)) : intervals - 1;
    while (printed <= lastIndex) await printInterval(printed++);

    // ----- totals
    const all = summarize(buckets.flatMap((bucket) => bucket.latencies));
    out();
    out(`totals: ${all.count.toLocaleString("en-US")} requests in ${(loadMs / 1000).toFixed(1)} s, ${(all.count / (loadMs / 1000)).toFixed(1)} req/s, p50 ${ms(all.p50)} ms, p99 ${ms(all.p99)} ms; ` +
      `${reads.toLocaleString("en-US")} reads (${((reads / all.count) * 100).toFixed(1)}%), ${writes.toLocaleString("en-US")} writes (${((writes / all.count) * 100).toFixed(1)}%)`);
    out(`errors by code: ${formatErrors(totalErrors)}`);
    out(`machine load average at the end: ${loadAverage()}`);
    out();
    const opWidth = Math.max(...operations.map((operation) => operation.name.length));
    out(`${"operation".padEnd(opWidth)}  ${"requests".padStart(8)}  ${"p50 ms".padStart(7)}  ${"p99 ms".padStart(7)}  errors`);
    for (const operation of operations) {
      const stats = byOperation.get(operation.name)!;
      const summary = summarize(stats.latencies);
      out(`${operation.name.padEnd(opWidth)}  ${String(stats.requests).padStart(8)}  ${ms(summary.p50).padStart(7)}  ${ms(summary.p99).padStart(7)}  ${formatErrors(stats.errors)}`);
    }
    out();
    const shown = rss.length <= 30 ? rss : rss.filter((_, i) => i % Math.ceil(rss.length / 30) === 0 || i === rss.length - 1);
    out(`server RSS over time (MB, m:ss; ${rss.length} samples every ${RSS_EVERY_MS / 1000} s${shown.length < rss.length ? `, ${shown.length} shown` : ""}):`);
    for (let i = 0; i < shown.length; i += 10) out(`  ${shown.slice(i, i + 10).map((sample) => `${clock(sample.atMs)} ${sample.mb.toFixed(0)}`).join(", ")}`);
    if (serverDied) out(`the server exited during the run; its last lines:\n${server.tail().join("\n")}`);
    if (server.errorLines() > 0) out(`server log: ${server.errorLines()} lines at level error or fatal; the last lines:\n${server.tail().slice(-10).join("\n")}`);

    // ----- verdict
    out();
    if (interrupted) {
      out(`INTERRUPTED after ${(loadMs / 1000).toFixed(1)} s: no verdict`);
      return 130;
    }
    out("VERDICT");
    const checks: { name: string; pass: boolean | null; detail: string }[] = [];

    const fiveXx = [...totalErrors].filter(([code]) => /^HTTP 5\d\d$/.test(code)).reduce((sum, [, n]) => sum + n, 0);
    const internal = totalErrors.get("INTERNAL_SERVER_ERROR") ?? 0;
    const transport = [...totalErrors].filter(([code]) => code.startsWith("NET ")).reduce((sum, [, n]) => sum + n, 0);
    checks.push({
      name: "no server errors",
      pass: fiveXx === 0 && internal === 0 && transport === 0 && !serverDied,
      detail: `${fiveXx} HTTP 5xx, ${internal} INTERNAL_SERVER_ERROR, ${transport} connection errors or timeouts${serverDied ? ", and the server process exited" : ""} (all must be 0; other codes are listed above and don't fail the run)`,
    });

    // RSS: the middle and last thirds of the run after warm-up, by median (robust to a GC's saw-tooth).
    const window = rss.filter((sample) => sample.atMs >= WARMUP_MS);
    const span = loadMs - WARMUP_MS;
    const middle = window.filter((sample) => sample.atMs >= WARMUP_MS + span / 3 && sample.atMs < WARMUP_MS + (2 * span) / 3).map((sample) => sample.mb);
    const last = window.filter((sample) => sample.atMs >= WARMUP_MS + (2 * span) / 3).map((sample) => sample.mb);
    if (middle.length < 2 || last.length < 2) {
      checks.push({ name: "no RSS growth trend", pass: null, detail: `not enough RSS samples after warm-up (${middle.length} and ${last.length}); run longer` });
    } else {
      const before = median(middle);
      const after = median(last);
      const allowed = Math.max(20, before * 0.1);
      // Under a minute after warm-up the heap is still growing to its working size: report, don't judge.
      const judged = span >= RSS_MIN_WINDOW_MS;
      checks.push({
        name: "no RSS growth trend",
        pass: judged ? after - before <= allowed : null,
        detail: `median RSS of the last third ${after.toFixed(0)} MB vs the middle third ${before.toFixed(0)} MB: ${after - before >= 0 ? "+" : ""}${(after - before).toFixed(1)} MB ` +
          `(rule: growth ≤ max(20 MB, 10% of the middle third) = ${allowed.toFixed(1)} MB; the first third after warm-up is left out: heaps and pools still grow to their working size there)` +
          (judged ? "" : `; not judged: only ${(span / 1000).toFixed(0)} s after warm-up, the check needs ${RSS_MIN_WINDOW_MS / 1000} s (--minutes 1.2 or more)`),
      });
    }

    // p99: the last interval against the first interval after warm-up.
    const base = summarize(baseline);
    const lastInterval = summarize(buckets.at(-1)!.latencies);
    if (intervals < 2 || base.count < 100 || lastInterval.count < 100) {
      checks.push({ name: "p99 not rising", pass: null, detail: `too few requests to compare (baseline ${base.count}, last interval ${lastInterval.count}); run longer` });
    } else {
      const limit = Math.max(1.5 * base.p99, base.p99 + 20);
      checks.push({
        name: "p99 not rising",
        pass: lastInterval.p99 <= limit,
        detail: `last interval p99 ${ms(lastInterval.p99)} ms vs ${ms(base.p99)} ms in ${clock(WARMUP_MS)}-${clock(INTERVAL_MS)} (the first interval without warm-up) ` +
          `(rule: last ≤ max(1.5 × first, first + 20 ms) = ${ms(limit)} ms)`,
      });
    }

    for (const check of checks) out(`  ${check.pass === null ? "SKIP" : check.pass ? "PASS" : "FAIL"}  ${check.name}: ${check.detail}`);
    const pass = checks.every((check) => check.pass !== false);
    client.close();
    client = null;
    const exitCode = await server.stop();
    server = null;
    out(`server stopped with exit code ${exitCode} after SIGTERM${exitCode === 0 ? "" : " (expected 0: a graceful shutdown)"}`);
    out(pass ? "PASS" : "FAIL");
    return pass ? 0 : 1;
  } finally {
    await cleanup();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
