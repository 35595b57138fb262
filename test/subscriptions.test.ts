// `subscription { membershipEvents }` over real sockets with real clients: graphql-sse (GraphQL
// over SSE, as `curl -N` would) and graphql-ws (WebSocket). Replay after a cursor, then live, once
// each, in revision order; access re-checked: a subscriber who loses events:read (role changed,
// removed, token revoked, user suspended) gets FORBIDDEN or UNAUTHENTICATED within 2 s and no
// event committed after the loss; shutdown ends streams with SERVICE_UNAVAILABLE.
import { createHash } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import type { AddressInfo } from "node:net";
import { createClient as createSseClient } from "graphql-sse";
import { createClient as createWsClient } from "graphql-ws";
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { revokeApiToken } from "../src/domain/api-tokens.js";
import { suspendUser } from "../src/domain/operators.js";
import { attachWebSockets, type WebSockets } from "../src/http/websocket.js";
import { createLogger } from "../src/logger.js";
import { createApp, type App } from "../src/server.js";
import { createEventHub, membershipEventStream } from "../src/graphql/event-streams.js";
import { createAuthenticator } from "../src/auth/authenticate.js";
import { createContext } from "../src/graphql/context.js";
import type { AppError } from "../src/core/errors.js";
import { loadConfig } from "../src/config.js";
import { openDatabase } from "../src/db/client.js";
import { addMembership, createTestApp, holdConnection, orgWithPeople, roleGid, TEST_DATABASE_URL, userWithToken, type OrgFixture, type TestApp } from "./helpers.js";

let t: TestApp;
let acme: OrgFixture;
let server: http.Server;
let sockets: WebSockets;
let base: string;

const SUBSCRIBE = `subscription($organizationId: ID!, $after: String, $types: [MembershipEventType!]) {
  membershipEvents(organizationId: $organizationId, after: $after, types: $types) { revision type cursor member { id } } }`;
const UPDATE_MEMBER = `mutation($input: UpdateMemberInput!) { updateMember(input: $input) { revision } }`;
const ROLE = `mutation($input: UpdateMemberRoleInput!) { updateMemberRole(input: $input) { revision } }`;

interface Result {
  data?: { membershipEvents: { revision: number; type: string; cursor: string } | null } | null;
  errors?: { message: string; extensions?: { code?: string } }[];
}

/** A running subscription's results as they arrive, and whether it has ended. */
class Collector {
  readonly results: Result[] = [];
  done = false;
  doneAt = 0;
  private waiters: (() => void)[] = [];
  constructor(private readonly iterator: AsyncIterableIterator<Result>) {
    void (async () => {
      try {
        for await (const result of iterator) {
          this.results.push(result);
          this.notify();
        }
      } catch (error) {
        this.results.push({ errors: [{ message: JSON.stringify(error, Object.getOwnPropertyNames(error ?? {})), extensions: { code: "TRANSPORT" } }] });
      } finally {
        this.done = true;
        this.doneAt = Date.now();
        this.notify();
      }
    })();
  }
  private notify() {
    for (const waiter of this.waiters.splice(0)) waiter();
  }
  get revisions() {
    return this.results.flatMap((result) => (result.data?.membershipEvents ? [result.data.membershipEvents.revision] : []));
  }
  get codes() {
    return this.results.flatMap((result) => (result.errors ?? []).map((error) => error.extensions?.code));
  }
  async until(predicate: () => boolean, timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error(`timed out; results so far: ${JSON.stringify(this.results)}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }
  async stop() {
    await this.iterator.return?.();
  }
}

function sse(token: string, variables: Record<string, unknown>): Collector {
  const client = createSseClient({ url: `${base}/graphql`, headers: { authorization: `Bearer ${token}` }, retryAttempts: 0 });
  return new Collector(client.iterate({ query: SUBSCRIBE, variables }) as AsyncIterableIterator<Result>);
}

function ws(token: string, variables: Record<string, unknown>, asHeader = false): Collector {
  const client = createWsClient({
    url: `${base.replace("http", "ws")}/graphql`,
    webSocketImpl: asHeader
      ? class extends WebSocket {
          constructor(address: string, protocols?: string | string[]) {
            super(address, protocols, { headers: { authorization: `Bearer ${token}` } });
          }
        }
      : WebSocket,
    connectionParams: asHeader ? {} : { authorization: `Bearer ${token}` },
    retryAttempts: 0,
  });
  return new Collector(client.iterate({ query: SUBSCRIBE, variables }) as AsyncIterableIterator<Result>);
}

async function touch(fx: OrgFixture, n: number): Promise<number> {
  const result = await t.gql(UPDATE_MEMBER, { input: { memberId: fx.member.memberGid, publicMetadata: { n } } }, fx.owner.token);
  expect(result.errors).toBeUndefined();
  return result.data.updateMember.revision as number;
}

async function listen(app: App): Promise<{ server: http.Server; sockets: WebSockets; base: string }> {
  const created = http.createServer(app);
  const attached = attachWebSockets(created, (request, context) => app.fetch(request, context), createLogger("silent", "stderr"), { maxPayload: 1_000_000 });
  await new Promise<void>((resolve) => created.listen(0, "127.0.0.1", resolve));
  return { server: created, sockets: attached, base: `http://127.0.0.1:${(created.address() as AddressInfo).port}` };
}

beforeAll(async () => {
  t = await createTestApp({ SUBSCRIPTIONS_PER_USER: "5" });
  acme = await orgWithPeople(t.db, "live-acme");
  ({ server, sockets, base } = await listen(t.app));
});
afterAll(async () => {
  await sockets.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await t.close();
});

describe.each([
  ["SSE (graphql-sse)", sse],
  ["WebSocket (graphql-ws)", ws],
] as const)("membershipEvents over %s", (_name, open) => {
  it("streams new events live, once each, in revision order", async () => {
    const stream = open(acme.owner.token, { organizationId: acme.orgGid });
    // Subscribed from now: give it a moment to be in place (it re-reads every second anyway).
    await new Promise((resolve) => setTimeout(resolve, 300));
    const made: number[] = [];
    for (let n = 0; n < 4; n++) made.push(await touch(acme, n));
    await stream.until(() => stream.revisions.length >= 4);
    expect(stream.revisions).toEqual(made);
    expect(stream.codes).toEqual([]);
    await stream.stop();
  });

  it("replays what came after a cursor, then goes on live", async () => {
    const before = await touch(acme, 10);
    const a = await touch(acme, 11);
    const b = await touch(acme, 12);
    const cursor = Buffer.from(`ev:${acme.organization.id}:${before}`).toString("base64url");
    const stream = open(acme.owner.token, { organizationId: acme.orgGid, after: cursor });
    await stream.until(() => stream.revisions.length >= 2);
    const c = await touch(acme, 13);
    await stream.until(() => stream.revisions.includes(c));
    expect(stream.revisions).toEqual([a, b, c]);
    await stream.stop();
  });

  it("resumes after a disconnect from its last cursor: nothing lost, nothing twice", async () => {
    const first = open(acme.owner.token, { organizationId: acme.orgGid });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const early = [await touch(acme, 60), await touch(acme, 61)];
    await first.until(() => first.revisions.length >= 2);
    await first.stop();
    const lastCursor = first.results.at(-1)!.data!.membershipEvents!.cursor;
    // Changes while nobody listens.
    const missed = [await touch(acme, 62), await touch(acme, 63), await touch(acme, 64)];
    const second = open(acme.owner.token, { organizationId: acme.orgGid, after: lastCursor });
    await second.until(() => second.revisions.length >= 3);
    const live = await touch(acme, 65);
    await second.until(() => second.revisions.includes(live));
    expect(first.revisions).toEqual(early);
    expect(second.revisions).toEqual([...missed, live]);
    await second.stop();
  });

  it("ends with FORBIDDEN within 2 s when the subscriber loses events:read, and sends nothing committed after", async () => {
    const fx = await orgWithPeople(t.db, `live-loss-${open === sse ? "sse" : "ws"}`);
    const stream = open(fx.admin.token, { organizationId: fx.orgGid });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const seen = await touch(fx, 1);
    await stream.until(() => stream.revisions.includes(seen));
    const demotedAt = Date.now();
    const demoted = await t.gql(ROLE, { input: { memberId: fx.admin.memberGid, roleId: roleGid("member") } }, fx.owner.token);
    expect(demoted.errors).toBeUndefined();
    const after = await touch(fx, 2);
    await stream.until(() => stream.done, 3_000);
    expect(stream.doneAt - demotedAt).toBeLessThan(2_000);
    expect(stream.codes).toEqual(["FORBIDDEN"]);
    expect(stream.revisions).not.toContain(demoted.data.updateMemberRole.revision);
    expect(stream.revisions).not.toContain(after);
  });

  it("ends with UNAUTHENTICATED when the token is revoked", async () => {
    const person = await userWithToken(t.db, `revoked-${open === sse ? "sse" : "ws"}@live-acme.example`);
    await addMembership(t.db, acme.organization, person.user, "admin");
    const stream = open(person.token, { organizationId: acme.orgGid });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const token = await t.db.prisma.apiToken.findFirstOrThrow({ where: { userId: person.user.id } });
    await revokeApiToken(t.db.prisma, { userId: person.user.id, tokenId: null, requestId: null }, token.id);
    await stream.until(() => stream.done, 3_000);
    expect(stream.codes).toEqual(["UNAUTHENTICATED"]);
  });

  it("refuses a subscriber without events:read, and another organization's id", async () => {
    const member = open(acme.member.token, { organizationId: acme.orgGid });
    await member.until(() => member.done);
    expect(member.codes).toEqual(["FORBIDDEN"]);
    const other = await orgWithPeople(t.db, `live-other-${open === sse ? "sse" : "ws"}`);
    const crossing = open(other.owner.token, { organizationId: acme.orgGid });
    await crossing.until(() => crossing.done);
    expect(crossing.codes).toEqual(["FORBIDDEN"]);
    const anonymous = open("", { organizationId: acme.orgGid });
    await anonymous.until(() => anonymous.done);
    expect(anonymous.codes.length).toBe(1);
  });
});

describe("membershipEvents", () => {
  it("gives a stream's slot back as soon as its client goes away, over either transport", async () => {
    const open = async () => Number(/^graphql_subscriptions_open (\d+)/m.exec(await (await t.app.fetch("http://localhost/metrics")).text())?.[1]);
    const before = await open();
    for (const transport of [sse, ws]) {
      const stream = transport(acme.owner.token, { organizationId: acme.orgGid });
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(await open()).toBe(before + 1);
      await stream.stop();
      for (const began = Date.now(); (await open()) !== before && Date.now() - began < 2_000; ) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(await open()).toBe(before);
    }
  });

  it("takes the WebSocket credential from the upgrade request's Authorization header too", async () => {
    const stream = ws(acme.owner.token, { organizationId: acme.orgGid }, true);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const revision = await touch(acme, 20);
    await stream.until(() => stream.revisions.includes(revision));
    await stream.stop();
  });

  it("closes a WebSocket whose message is larger than an HTTP body may be, before parsing it", async () => {
    const socket = new WebSocket(`${base.replace("http", "ws")}/graphql`, "graphql-transport-ws");
    await new Promise((resolve, reject) => socket.once("open", resolve).once("error", reject));
    const closed = new Promise<number>((resolve) => socket.once("close", (code) => resolve(code)));
    socket.send(JSON.stringify({ type: "connection_init", payload: { padding: "x".repeat(2_000_000) } }));
    expect(await closed).toBe(1009);
  });

  it("filters by type and keeps the revisions of the whole feed", async () => {
    const stream = sse(acme.owner.token, { organizationId: acme.orgGid, types: ["MEMBER_ROLE_CHANGED"] });
    await new Promise((resolve) => setTimeout(resolve, 300));
    await touch(acme, 30);
    const up = await t.gql(ROLE, { input: { memberId: acme.member.memberGid, roleId: roleGid("admin") } }, acme.owner.token);
    await touch(acme, 31);
    const down = await t.gql(ROLE, { input: { memberId: acme.member.memberGid, roleId: roleGid("member") } }, acme.owner.token);
    await stream.until(() => stream.revisions.length >= 2);
    expect(stream.revisions).toEqual([up.data.updateMemberRole.revision, down.data.updateMemberRole.revision]);
    expect(down.data.updateMemberRole.revision).toBe(up.data.updateMemberRole.revision + 2);
    await stream.stop();
  });

  it("ends with UNAUTHENTICATED when an operator suspends the subscriber", async () => {
    const person = await userWithToken(t.db, "suspended@live-acme.example");
    await addMembership(t.db, acme.organization, person.user, "admin");
    const stream = sse(person.token, { organizationId: acme.orgGid });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const operator = await userWithToken(t.db, "operator@live-acme.example");
    await t.db.prisma.user.update({ where: { id: operator.user.id }, data: { isOperator: true } });
    await suspendUser(t.db.prisma, { userId: operator.user.id, tokenId: null, requestId: null }, { userId: person.user.id });
    await stream.until(() => stream.done, 3_000);
    expect(stream.codes).toEqual(["UNAUTHENTICATED"]);
  });

  it("refuses a cursor older than the retention with CURSOR_EXPIRED", async () => {
    const fx = await orgWithPeople(t.db, "live-expired");
    await touch(fx, 1);
    await touch(fx, 2);
    await t.db.prisma.membershipEvent.deleteMany({ where: { organizationId: fx.organization.id, revision: { lte: 2 } } });
    const stream = sse(fx.owner.token, { organizationId: fx.orgGid, after: Buffer.from(`ev:${fx.organization.id}:0`).toString("base64url") });
    await stream.until(() => stream.done);
    expect(stream.codes).toEqual(["CURSOR_EXPIRED"]);
  });

  it("answers a plain text/event-stream request (curl -N)", async () => {
    const controller = new AbortController();
    const response = await fetch(`${base}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream", authorization: `Bearer ${acme.owner.token}` },
      body: JSON.stringify({ query: SUBSCRIBE, variables: { organizationId: acme.orgGid } }),
      signal: controller.signal,
    });
    expect(response.headers.get("content-type")).toContain("text/event-stream");
    const reader = response.body!.getReader();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const revision = await touch(acme, 40);
    let text = "";
    while (!text.includes(`"revision":${revision}`)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`the stream ended: ${text}`);
      text += new TextDecoder().decode(value);
    }
    expect(text).toMatch(/event: next\ndata: \{"data":\{"membershipEvents":\{"revision":\d+/);
    controller.abort();
  });

  it("limits the subscriptions one user holds open (SUBSCRIPTIONS_PER_USER)", async () => {
    const person = await userWithToken(t.db, "many@live-acme.example");
    await addMembership(t.db, acme.organization, person.user, "admin");
    const open = Array.from({ length: 5 }, () => sse(person.token, { organizationId: acme.orgGid }));
    await new Promise((resolve) => setTimeout(resolve, 500));
    const sixth = sse(person.token, { organizationId: acme.orgGid });
    await sixth.until(() => sixth.done);
    expect(sixth.codes).toEqual(["RATE_LIMITED"]);
    await Promise.all(open.map((stream) => stream.stop()));
    // Closed ones are given back.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const again = sse(person.token, { organizationId: acme.orgGid });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(again.done).toBe(false);
    await again.stop();
  });

  it("never gives a subscriber of one organization another's events (several organizations, random changes)", async () => {
    const orgs = await Promise.all([0, 1, 2].map((i) => orgWithPeople(t.db, `live-fuzz-${i}`)));
    const SUBSCRIBE_WITH_ORG = `subscription($organizationId: ID!) { membershipEvents(organizationId: $organizationId) { revision organizationId } }`;
    const streams = orgs.map((fx, i) => {
      const client =
        i % 2 === 0
          ? createSseClient({ url: `${base}/graphql`, headers: { authorization: `Bearer ${fx.owner.token}` }, retryAttempts: 0 })
          : createWsClient({ url: `${base.replace("http", "ws")}/graphql`, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${fx.owner.token}` }, retryAttempts: 0 });
      return new Collector(client.iterate({ query: SUBSCRIBE_WITH_ORG, variables: { organizationId: fx.orgGid } }) as AsyncIterableIterator<Result>);
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const made = new Map<number, number[]>(orgs.map((_, i) => [i, []]));
    let seed = 7;
    const random = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
    await Promise.all(
      Array.from({ length: 24 }, async () => {
        const i = Math.floor(random() * orgs.length);
        made.get(i)!.push(await touch(orgs[i]!, Math.floor(random() * 1000)));
      }),
    );
    for (const [i, stream] of streams.entries()) {
      const expected = made.get(i)!.sort((a, b) => a - b);
      await stream.until(() => stream.revisions.length >= expected.length);
      expect(stream.revisions).toEqual(expected);
      const ids = new Set(stream.results.map((result) => (result.data?.membershipEvents as { organizationId?: string } | undefined)?.organizationId));
      expect([...ids]).toEqual([orgs[i]!.orgGid]);
      await stream.stop();
    }
  });

  it("reports open streams and delivery lag in /metrics", async () => {
    const stream = sse(acme.owner.token, { organizationId: acme.orgGid });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const revision = await touch(acme, 70);
    await stream.until(() => stream.revisions.includes(revision));
    const metrics = await (await t.app.fetch("http://localhost/metrics")).text();
    expect(Number(/^graphql_subscriptions_open (\d+)/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(1);
    expect(Number(/^change_feed_delivery_lag_seconds_count (\d+)/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(1);
    await stream.stop();
  });

  it("ends a stream whose consumer stops reading with SLOW_CONSUMER once its buffer is full, resumable with after", async () => {
    const fx = await orgWithPeople(t.db, "live-slow");
    const hub = createEventHub(t.db, createLogger("silent", "stderr"));
    const context = createContext(t.db, t.config, "slow-consumer-test", await createAuthenticator(t.db, null)(`Bearer ${fx.owner.token}`), {
      reauthenticate: () => createAuthenticator(t.db, null)(`Bearer ${fx.owner.token}`),
      live: { db: t.db, hub, maxPerUser: 5, buffer: 3 },
    });
    const stream = (await membershipEventStream(context.live, context, { organizationId: fx.organization.id, after: null, actions: null }))[Symbol.asyncIterator]();
    const made = [];
    for (let n = 0; n < 6; n++) made.push(await touch(fx, n));
    // Nobody has read yet: three were held, the fourth was more than the buffer, and what waited is dropped with the stream.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const read: unknown[] = [];
    for (;;) {
      const next = await stream.next();
      if (next.done) break;
      read.push(next.value);
    }
    expect(read).toHaveLength(1);
    expect((read[0] as AppError).code).toBe("SLOW_CONSUMER");
    expect(made).toHaveLength(6);
    await hub.close();
  });

  it.runIf(!!TEST_DATABASE_URL)("rides out a pool with no connection free: the stream waits, then delivers what was committed meanwhile, once", async () => {
    const fx = await orgWithPeople(t.db, "live-busy");
    // The stream's own pool: one connection, given up on after 200 ms of waiting for it.
    const small = await openDatabase({ databaseUrl: t.url, dataDir: "", poolSize: 1, connectTimeoutMs: 200 });
    const hub = createEventHub(small, createLogger("silent", "stderr"));
    try {
      const authenticate = createAuthenticator(small, null);
      const context = createContext(small, t.config, "busy-pool-test", await authenticate(`Bearer ${fx.owner.token}`), {
        reauthenticate: () => authenticate(`Bearer ${fx.owner.token}`),
        live: { db: small, hub, maxPerUser: 5, buffer: 100 },
      });
      const stream = (await membershipEventStream(context.live, context, { organizationId: fx.organization.id, after: null, actions: null }))[Symbol.asyncIterator]();
      // Hold the only connection past two of the stream's one-second re-checks, and commit a change meanwhile (through another pool).
      const release = await holdConnection(small);
      const revision = await touch(fx, 1);
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      await release();
      const next = await Promise.race([stream.next(), new Promise<"late">((resolve) => setTimeout(() => resolve("late"), 3_000))]);
      expect(next).not.toBe("late");
      const { value } = next as IteratorResult<{ revision?: number; code?: string }>;
      expect(value?.code).toBeUndefined();
      expect(value?.revision).toBe(revision);
      // Once: nothing follows it.
      expect(await Promise.race([stream.next(), new Promise<"nothing">((resolve) => setTimeout(() => resolve("nothing"), 1_500))])).toBe("nothing");
      await stream.return?.();
    } finally {
      await hub.close();
      await small.close();
    }
  });

  it("holds TRUSTED_DOCUMENTS=require on WebSocket too: only manifest documents run", async () => {
    const hash = createHash("sha256").update(SUBSCRIBE).digest("hex");
    const dir = mkdtempSync(path.join(tmpdir(), "trusted-ws-"));
    const manifest = path.join(dir, "persisted-documents.json");
    writeFileSync(manifest, JSON.stringify({ [hash]: SUBSCRIBE }));
    const app = createApp({ config: loadConfig({ LOG_LEVEL: "silent", TRUSTED_DOCUMENTS: "require", TRUSTED_DOCUMENTS_FILE: manifest }), db: t.db, logger: createLogger("silent", "stderr") });
    const own = await listen(app);
    try {
      const client = createWsClient({ url: `${own.base.replace("http", "ws")}/graphql`, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${acme.owner.token}` }, retryAttempts: 0 });
      const arbitrary = new Collector(client.iterate({ query: SUBSCRIBE, variables: { organizationId: acme.orgGid } }) as AsyncIterableIterator<Result>);
      await arbitrary.until(() => arbitrary.done);
      expect(arbitrary.codes).toEqual(["PERSISTED_QUERY_ONLY"]);
      const trusted = new Collector(
        client.iterate({ query: "", variables: { organizationId: acme.orgGid }, extensions: { persistedQuery: { version: 1, sha256Hash: hash } } }) as AsyncIterableIterator<Result>,
      );
      await new Promise((resolve) => setTimeout(resolve, 300));
      const revision = await touch(acme, 50);
      await trusted.until(() => trusted.revisions.includes(revision));
      await trusted.stop();
      await client.dispose();
    } finally {
      await own.sockets.close();
      own.server.closeAllConnections();
      await new Promise((resolve) => own.server.close(resolve));
    }
  });

  it("ends every stream with SERVICE_UNAVAILABLE when the server shuts down", async () => {
    const hub = createEventHub(t.db, createLogger("silent", "stderr"));
    const app = createApp({ config: loadConfig({ LOG_LEVEL: "silent" }), db: t.db, logger: createLogger("silent", "stderr"), eventHub: hub });
    const own = await listen(app);
    const previous = base;
    base = own.base;
    try {
      const a = sse(acme.owner.token, { organizationId: acme.orgGid });
      const b = ws(acme.owner.token, { organizationId: acme.orgGid });
      await new Promise((resolve) => setTimeout(resolve, 500));
      await hub.close();
      await a.until(() => a.done, 3_000);
      await b.until(() => b.done, 3_000);
      expect(a.codes).toEqual(["SERVICE_UNAVAILABLE"]);
      expect(b.codes).toEqual(["SERVICE_UNAVAILABLE"]);
    } finally {
      base = previous;
      await own.sockets.close();
      own.server.closeAllConnections();
      await new Promise((resolve) => own.server.close(resolve));
    }
  });
});
