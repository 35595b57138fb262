// The change feed across server processes on one PostgreSQL: subscribe on A, change through B,
// the event reaches A's subscribers (SSE and WebSocket) within a second; A's LISTEN connection
// killed mid-stream loses nothing (the table is the truth; streams look every second and A
// listens again); SIGTERM ends A's streams with SERVICE_UNAVAILABLE so clients reconnect elsewhere.
import { createClient as createSseClient } from "graphql-sse";
import { createClient as createWsClient } from "graphql-ws";
import pg from "pg";
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gql, startServer, type ServerProcess } from "./fixtures/server-process.js";
import { globalId, openTestDatabase, organizationOf, TEST_DATABASE_URL, userWithToken, type TestDatabase } from "./helpers.js";

const SUBSCRIBE = `subscription($organizationId: ID!, $after: String) {
  membershipEvents(organizationId: $organizationId, after: $after) { revision cursor } }`;
const UPDATE = `mutation($input: UpdateOrganizationInput!) { updateOrganization(input: $input) { revision } }`;

interface Result {
  data?: { membershipEvents: { revision: number; cursor: string } | null } | null;
  errors?: { extensions?: { code?: string } }[];
}

function collect(iterator: AsyncIterableIterator<Result>) {
  const results: { at: number; result: Result }[] = [];
  let done = false;
  void (async () => {
    try {
      for await (const result of iterator) results.push({ at: Date.now(), result });
    } finally {
      done = true;
    }
  })();
  return {
    results,
    get done() {
      return done;
    },
    revisions: () => results.flatMap(({ result }) => (result.data?.membershipEvents ? [result.data.membershipEvents.revision] : [])),
    arrivalOf: (revision: number) => results.find(({ result }) => result.data?.membershipEvents?.revision === revision)?.at,
    codes: () => results.flatMap(({ result }) => (result.errors ?? []).map((error) => error.extensions?.code)),
    stop: () => iterator.return?.(),
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(predicate: () => boolean, timeoutMs: number, what: string) {
  for (const began = Date.now(); !predicate(); await sleep(20)) if (Date.now() - began > timeoutMs) throw new Error(`timed out waiting for ${what}`);
}

describe.runIf(!!TEST_DATABASE_URL)("the change feed across server processes (PostgreSQL)", () => {
  let database: TestDatabase;
  let a: ServerProcess;
  let b: ServerProcess;
  let token: string;
  let orgGid: string;
  let n = 0;

  const change = async (): Promise<number> => {
    const result = await gql(b.url, UPDATE, token, { input: { organizationId: orgGid, name: `Live ${++n}` } });
    expect(result.body.errors).toBeUndefined();
    return result.body.data.updateOrganization.revision as number;
  };
  const subscribe = (transport: "sse" | "ws", variables: Record<string, unknown> = {}) => {
    const client =
      transport === "sse"
        ? createSseClient({ url: `${a.url}/graphql`, headers: { authorization: `Bearer ${token}` }, retryAttempts: 0 })
        : createWsClient({ url: `${a.url.replace("http", "ws")}/graphql`, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${token}` }, retryAttempts: 0 });
    return collect(client.iterate({ query: SUBSCRIBE, variables: { organizationId: orgGid, ...variables } }) as AsyncIterableIterator<Result>);
  };

  beforeAll(async () => {
    database = await openTestDatabase();
    const owner = await userWithToken(database.db, "owner@live-instances.example");
    token = owner.token;
    orgGid = globalId("Organization", (await organizationOf(database.db, owner.user, "Live", "live-instances")).id);
    const env = { DATABASE_URL: database.url!, RATE_LIMITS: "false" };
    [a, b] = await Promise.all([startServer(env), startServer(env)]);
  });
  afterAll(async () => {
    for (const server of [a, b]) if (server && server.child.exitCode === null && server.child.signalCode === null) server.child.kill("SIGKILL");
    await database?.close();
  });

  it("delivers a change made through B to subscribers on A within a second", async () => {
    const streams = [subscribe("sse"), subscribe("ws")];
    await sleep(500);
    for (let i = 0; i < 3; i++) {
      const sent = Date.now();
      const revision = await change();
      for (const stream of streams) {
        await until(() => stream.arrivalOf(revision) !== undefined, 2_000, `revision ${revision} on A`);
        expect(stream.arrivalOf(revision)! - sent).toBeLessThan(1_000);
      }
    }
    for (const stream of streams) await stream.stop();
  });

  it("loses nothing when A's LISTEN connection is killed mid-stream, and listens again", async () => {
    const streams = [subscribe("sse"), subscribe("ws")];
    await sleep(500);
    const made = [await change(), await change()];
    const admin = new pg.Client({ connectionString: database.url! });
    await admin.connect();
    try {
      const listener = `membership-graph-listen-${a.child.pid}`;
      const killed = await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", [listener]);
      expect(killed.rowCount).toBe(1);
      for (let i = 0; i < 8; i++) {
        made.push(await change());
        await sleep(100);
      }
      for (const stream of streams) {
        await until(() => stream.revisions().length >= made.length, 5_000, "every event after the kill");
        expect(stream.revisions()).toEqual(made);
        expect(stream.codes()).toEqual([]);
      }
      // A listens again (within the second it waits before reconnecting).
      let relistened = 0;
      for (const began = Date.now(); relistened === 0 && Date.now() - began < 5_000; await sleep(100)) {
        relistened = (await admin.query("SELECT 1 FROM pg_stat_activity WHERE application_name = $1", [listener])).rowCount ?? 0;
      }
      expect(relistened).toBe(1);
    } finally {
      await admin.end();
    }
    for (const stream of streams) await stream.stop();
  });

  it("ends A's streams with SERVICE_UNAVAILABLE on SIGTERM; the client resumes on B from its cursor", async () => {
    const stream = subscribe("sse");
    await sleep(500);
    const before = await change();
    await until(() => stream.revisions().includes(before), 2_000, "the event before SIGTERM");
    a.child.kill("SIGTERM");
    await until(() => stream.done, 5_000, "the stream to end");
    expect(stream.codes()).toEqual(["SERVICE_UNAVAILABLE"]);
    expect(await a.exited).toBe(0);
    const missed = await change();
    const cursor = stream.results.findLast(({ result }) => result.data?.membershipEvents)!.result.data!.membershipEvents!.cursor;
    const resumed = collect(
      createSseClient({ url: `${b.url}/graphql`, headers: { authorization: `Bearer ${token}` }, retryAttempts: 0 }).iterate({
        query: SUBSCRIBE,
        variables: { organizationId: orgGid, after: cursor },
      }) as AsyncIterableIterator<Result>,
    );
    await until(() => resumed.revisions().includes(missed), 3_000, "the missed event on B");
    expect(resumed.revisions()).toEqual([missed]);
    await resumed.stop();
  });
});
