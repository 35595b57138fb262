// Webhooks across real server processes: `kill -9` in the middle of a delivery loses nothing (the
// restarted server repeats the attempt, same webhook-id, then goes on in order), and
// `npm run cli -- webhooks-worker` delivers alone what servers with WEBHOOK_WORKER=false owe, while
// /metrics shows the queue; on PostgreSQL two server instances share the work without sending an
// attempt twice. On the embedded database (a data folder of its own, whose key the
// server makes on first start) and on PostgreSQL.
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Webhook } from "standardwebhooks";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { gql, runCli, startServer, stopServer, type ServerProcess } from "./fixtures/server-process.js";
import { startReceiver, type Receiver } from "./fixtures/webhook-receiver.js";
import { openTestDatabase, TEST_DATABASE_URL, type TestDatabase } from "./helpers.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until<T>(read: () => T, ok: (value: T) => boolean, what: string, timeoutMs = 30_000): Promise<T> {
  const began = Date.now();
  for (;;) {
    const value = read();
    if (ok(value)) return value;
    if (Date.now() - began > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const WEBHOOK_ENV = {
  WEBHOOK_ALLOW_HTTP_HOSTS: "127.0.0.1",
  WEBHOOK_ALLOW_PRIVATE_HOSTS: "127.0.0.1",
  WEBHOOK_TIMEOUT_MS: "1500",
  WEBHOOK_RETRY_SCHEDULE: "0,200ms,200ms,200ms,200ms",
  WEBHOOK_POLL_MS: "100",
  RATE_LIMITS: "false",
  SEED_DEMO: "false",
};

let receiver: Receiver;
const servers: ServerProcess[] = [];
const cleanups: (() => Promise<void> | void)[] = [];

/** A database of its own for one test: a fresh PostgreSQL database, or an embedded data folder. */
async function database(): Promise<Record<string, string>> {
  if (TEST_DATABASE_URL) {
    const test: TestDatabase = await openTestDatabase();
    cleanups.push(() => test.close());
    // The key comes from the configuration; the embedded database makes its own.
    return { DATABASE_URL: test.url!, WEBHOOK_SECRET_KEY: Buffer.alloc(32, 9).toString("base64") };
  }
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "mg-webhooks-"));
  cleanups.push(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  return { DATA_DIR: dataDir, DATABASE_URL: "" };
}

async function start(env: Record<string, string>): Promise<ServerProcess> {
  const server = await startServer(env);
  servers.push(server);
  return server;
}

/** A user's token (made by the CLI, before any server holds the database) and an organization of theirs with an endpoint at `hookPath`. */
async function organizationWithEndpoint(env: Record<string, string>, hookPath: string) {
  const cli = runCli(["create-token", "--email", `owner${hookPath.replace("/", "-")}@hooks.example`], env);
  expect(cli.status, cli.stderr).toBe(0);
  const token = cli.stdout.trim();
  return {
    token,
    async setUp(server: ServerProcess) {
      const created = await gql(server.url, `mutation($input: CreateOrganizationInput!) { createOrganization(input: $input) { organization { id } } }`, token, { input: { name: `Hooks ${hookPath}` } });
      expect(created.body.errors).toBeUndefined();
      const orgGid = created.body.data.createOrganization.organization.id as string;
      const endpoint = await gql(server.url, `mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { secret } }`, token, { input: { organizationId: orgGid, url: receiver.url(hookPath) } });
      expect(endpoint.body.errors).toBeUndefined();
      let n = 0;
      return {
        secret: endpoint.body.data.createWebhookEndpoint.secret as string,
        change: async (url: string): Promise<number> => {
          const result = await gql(url, `mutation($input: UpdateOrganizationInput!) { updateOrganization(input: $input) { revision } }`, token, { input: { organizationId: orgGid, name: `Hooks ${hookPath} ${++n}` } });
          expect(result.body.errors).toBeUndefined();
          return result.body.data.updateOrganization.revision;
        },
      };
    },
  };
}

beforeAll(async () => {
  receiver = await startReceiver();
});
afterEach(async () => {
  for (const server of servers.splice(0)) if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill("SIGKILL");
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(async () => {
  await receiver?.close();
});

describe("webhooks across processes", () => {
  it("kill -9 mid-delivery loses nothing: the restarted server repeats the attempt with the same webhook-id, then the rest in order", async () => {
    const env: Record<string, string> = { ...(await database()), ...WEBHOOK_ENV };
    const owner = await organizationWithEndpoint(env, "/killed");
    let held = false;
    // The first request is never answered: the server dies waiting for it.
    receiver.answer("/killed", () => (held ? 200 : ((held = true), "hold")));
    const first = await start(env);
    const hook = await owner.setUp(first);
    const revisions = [await hook.change(first.url), await hook.change(first.url)];
    await until(() => receiver.at("/killed"), (list) => list.length === 1, "the held attempt");
    first.child.kill("SIGKILL");
    await first.exited;
    const second = await start(env);
    revisions.push(await hook.change(second.url));
    const list = await until(() => receiver.at("/killed"), (items) => items.some((item) => item.json.revision === revisions[2]), "the owed events after the restart");
    expect(list.map((item) => item.json.revision)).toEqual([revisions[0], ...revisions]);
    expect(list[1]!.id).toBe(list[0]!.id);
    for (const item of list) expect(new Webhook(hook.secret).verify(item.body, item.headers)).toBeTruthy();
    if (!TEST_DATABASE_URL) expect(fs.existsSync(path.join(env.DATA_DIR!, "webhook-secret.key"))).toBe(true);
    expect(await stopServer(second)).toBe(0);
  });

  it.runIf(!!TEST_DATABASE_URL)("two server instances on one PostgreSQL share the deliveries: each attempt is sent once, in order per endpoint", async () => {
    const env: Record<string, string> = { ...(await database()), ...WEBHOOK_ENV, WEBHOOK_CONCURRENCY: "2" };
    const paths = ["/pair-a", "/pair-b", "/pair-c"];
    const owners = await Promise.all(paths.map((hookPath) => organizationWithEndpoint(env, hookPath)));
    const [a, b] = await Promise.all([start(env), start(env)]);
    const hooks = await Promise.all(owners.map((owner, i) => owner.setUp(i % 2 === 0 ? a : b)));
    // Every first attempt at every third event fails: retries interleave with new events.
    for (const hookPath of paths) receiver.answer(hookPath, (request, attempt) => (attempt === 1 && request.json.revision % 3 === 0 ? 500 : 200));
    const made = await Promise.all(hooks.map(async (hook) => {
      const revisions: number[] = [];
      for (let i = 0; i < 15; i++) revisions.push(await hook.change(i % 2 === 0 ? a.url : b.url));
      return revisions;
    }));
    const expected = made.map((revisions) => revisions.flatMap((revision) => (revision % 3 === 0 ? [revision, revision] : [revision])));
    for (const [i, hookPath] of paths.entries()) await until(() => receiver.at(hookPath), (items) => items.length >= expected[i]!.length, `${hookPath}'s deliveries`);
    await sleep(1_000);
    // Exactly the attempts the schedule calls for, in order, no more: no attempt went out from both instances.
    for (const [i, hookPath] of paths.entries()) expect(receiver.at(hookPath).map((item) => item.json.revision)).toEqual(expected[i]);
    expect(await stopServer(a)).toBe(0);
    expect(await stopServer(b)).toBe(0);
  });

  it("npm run cli -- webhooks-worker delivers alone what servers with WEBHOOK_WORKER=false owe; /metrics shows the queue, and the worker's own its attempts", async () => {
    const env: Record<string, string> = { ...(await database()), ...WEBHOOK_ENV };
    const owner = await organizationWithEndpoint(env, "/cli");
    const server = await start({ ...env, WEBHOOK_WORKER: "false" });
    const hook = await owner.setUp(server);
    const revisions = [await hook.change(server.url), await hook.change(server.url), await hook.change(server.url)];
    await sleep(800);
    expect(receiver.at("/cli")).toHaveLength(0);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/^webhook_queue_depth 3$/m);
    expect(Number(/^webhook_oldest_owed_event_age_seconds (\S+)$/m.exec(metrics)?.[1])).toBeGreaterThan(0.5);
    // The embedded database is one process's: the server stops before the worker opens it.
    if (!TEST_DATABASE_URL) expect(await stopServer(server)).toBe(0);
    const workerEnv: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: "info", ...env, METRICS_PORT: "0", METRICS_HOST: "127.0.0.1" };
    delete workerEnv.VITEST;
    const worker = spawn(process.execPath, ["--import", "tsx", "src/cli.ts", "webhooks-worker"], {
      cwd: ROOT,
      env: workerEnv,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    worker.stdout.on("data", (chunk) => (output += chunk));
    worker.stderr.on("data", (chunk) => (output += chunk));
    const exited = new Promise<number | null>((resolve) => worker.on("exit", resolve));
    cleanups.push(() => void (worker.exitCode === null && worker.kill("SIGKILL")));
    await until(() => receiver.at("/cli"), (list) => list.length === 3, `the worker's deliveries (its log: ${output})`, 60_000);
    if (TEST_DATABASE_URL) {
      // Beside a running server: what it commits now reaches the worker through LISTEN/NOTIFY.
      revisions.push(await hook.change(server.url));
      await until(() => receiver.at("/cli"), (list) => list.length === 4, "a delivery of an event committed while the worker runs");
    }
    expect(receiver.at("/cli").map((item) => item.json.revision)).toEqual(revisions);
    // Its own /metrics (METRICS_PORT): what this worker sent.
    const metricsPort = Number(/"metricsPort":(\d+)/.exec(output)?.[1]);
    expect(metricsPort, output).toBeGreaterThan(0);
    // The receiver sees a request before the worker records its outcome: read until the last one is counted.
    const counted = new RegExp(`^webhook_deliveries_total\\{outcome="succeeded"\\} ${revisions.length}$`, "m");
    let own = "";
    for (const began = Date.now(); !counted.test(own) && Date.now() - began < 10_000; await sleep(100)) own = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    expect(own).toMatch(counted);
    expect(own).toMatch(/^webhook_queue_depth \d+$/m);
    worker.kill("SIGTERM");
    expect(await exited, output).toBe(0);
    expect(output).toMatch(/delivering webhooks/);
  });
});
