// Subscription results shared among streams (src/graphql/stream-results.ts) answer exactly as each
// stream computing its own: an app with the sharing (createApp's default) and one without
// (`plainPaths: true`) over one database stream the same changes to several viewers — the owner,
// an admin, and someone whose role holds events:read but not members:read (the actor, the member
// and the people in `changes` are hidden or redacted for them) — each over several streams with
// the same credential. Every stream's results must be the same JSON as the plain path's for that
// viewer, the viewers' answers must differ where their permissions do (nothing is shared across
// them), and the sharing must really happen (graphql_subscription_results_total).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.js";
import { createApiToken } from "../src/domain/api-tokens.js";
import { createLogger } from "../src/logger.js";
import { createApp, type App } from "../src/server.js";
import { addMembership, openTestDatabase, orgWithPeople, userWithToken, type OrgFixture, type TestDatabase } from "./helpers.js";

const SUBSCRIBE = `subscription($org: ID!) {
  membershipEvents(organizationId: $org) {
    id revision type action cursor occurredAt
    actor { id email }
    member { id role { key } user { id email } }
    changes { before after }
  }
}`;
const UPDATE_MEMBER = `mutation($input: UpdateMemberInput!) { updateMember(input: $input) { revision } }`;

let test: TestDatabase;
let shared: App;
let plain: App;
let fx: OrgFixture;
/** A member whose role holds events:read only. */
let reader: string;

async function gql(app: App, token: string, query: string, variables: Record<string, unknown>) {
  const response = await app.fetch("http://localhost/graphql", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as { data?: any; errors?: unknown[] };
}

/** An SSE subscription through the app, its results (each `data:` line, parsed) as they come. */
function subscribe(app: App, token: string, query = SUBSCRIBE) {
  const results: any[] = [];
  let body: ReadableStreamDefaultReader<Uint8Array> | null = null;
  let opened!: () => void;
  const open = new Promise<void>((resolve) => (opened = resolve));
  void (async () => {
    const response = await app.fetch("http://localhost/graphql", {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream", authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables: { org: fx.orgGid } }),
    });
    const reader = (body = response.body!.getReader());
    const decoder = new TextDecoder();
    let text = "";
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        opened();
        text += decoder.decode(value, { stream: true });
        let end: number;
        while ((end = text.indexOf("\n\n")) >= 0) {
          const data = text.slice(0, end).split("\n").find((line) => line.startsWith("data: {"));
          text = text.slice(end + 2);
          if (data) results.push(JSON.parse(data.slice(6)));
        }
      }
    } catch {
      // cancelled
    }
  })();
  return {
    results,
    open,
    // As a client going away: the response's body is cancelled.
    close: () => void body?.cancel().catch(() => {}),
  };
}

async function until(check: () => boolean | Promise<boolean>, what: string) {
  for (const began = Date.now(); !(await check()); await new Promise((resolve) => setTimeout(resolve, 20))) {
    if (Date.now() - began > 10_000) throw new Error(`timed out waiting for ${what}`);
  }
}

async function openStreams(app: App): Promise<number> {
  const text = await (await app.fetch("http://localhost/metrics")).text();
  return Number(/^graphql_subscriptions_open (\d+)/m.exec(text)?.[1]);
}

async function resultCounts(app: App): Promise<{ computed: number; shared: number }> {
  const text = await (await app.fetch("http://localhost/metrics")).text();
  const count = (source: string) => Number(new RegExp(`^graphql_subscription_results_total\\{source="${source}"\\} (\\d+)`, "m").exec(text)?.[1] ?? 0);
  return { computed: count("computed"), shared: count("shared") };
}

beforeAll(async () => {
  test = await openTestDatabase();
  const config = loadConfig({ LOG_LEVEL: "silent", RATE_LIMITS: "false", METRICS: "true" });
  const logger = createLogger("silent");
  shared = createApp({ config, db: test.db, logger });
  plain = createApp({ config, db: test.db, logger, plainPaths: true });
  fx = await orgWithPeople(test.db, "shared-results");
  const role = await test.db.prisma.role.create({ data: { organizationId: fx.organization.id, key: "feed_reader", name: "Feed reader", permissions: ["org:read", "events:read"] } });
  const person = await userWithToken(test.db, "reader@shared-results.example");
  const member = await addMembership(test.db, fx.organization, person.user, "member");
  await test.db.prisma.member.update({ where: { id: member.id }, data: { roleId: role.id } });
  reader = person.token;
});
afterAll(async () => {
  await Promise.all([shared.dispose(), plain.dispose()]);
  await test.close();
});

describe("subscription results shared among a credential's streams", () => {
  it("answer as each stream computing its own, per viewer, and are really shared", async () => {
    const viewers = { owner: fx.owner.token, admin: fx.admin.token, reader };
    const streams = Object.entries(viewers).flatMap(([name, token]) => [
      ...Array.from({ length: 3 }, () => ({ name, path: "shared", ...subscribe(shared, token) })),
      { name, path: "plain", ...subscribe(plain, token) },
    ]);
    await Promise.all(streams.map((stream) => stream.open));
    // Let every stream take its first look (the revision it starts from).
    await new Promise((resolve) => setTimeout(resolve, 300));
    const before = await resultCounts(shared);
    const changes = 4;
    for (let n = 0; n < changes; n++) {
      const result = await gql(shared, fx.owner.token, UPDATE_MEMBER, {
        input: { memberId: fx.member.memberGid, publicMetadata: { n }, privateMetadata: { secret: `s${n}` } },
      });
      expect(result.errors).toBeUndefined();
    }
    await until(() => streams.every((stream) => stream.results.length >= changes), "every stream's events");
    for (const stream of streams) stream.close();
    await until(async () => (await openStreams(shared)) === 0, "the streams to end");

    const answers = (name: string, path: string) => streams.filter((stream) => stream.name === name && stream.path === path).map((stream) => stream.results);
    for (const name of Object.keys(viewers)) {
      const [expected] = answers(name, "plain");
      expect(expected).toHaveLength(changes);
      for (const results of answers(name, "shared")) expect(results).toEqual(expected);
    }
    // Not vacuous: the viewers' answers differ where their permissions do.
    const [owner] = answers("owner", "plain") as any[][];
    const [feedOnly] = answers("reader", "plain") as any[][];
    expect(owner![0].errors).toBeUndefined();
    expect(owner![0].data.membershipEvents.actor.email).toBe("owner@shared-results.example");
    expect(owner![0].data.membershipEvents.member.user.email).toBe("member@shared-results.example");
    expect(JSON.stringify(owner![0].data.membershipEvents.changes)).toContain("s0");
    expect(feedOnly![0].data.membershipEvents.actor).toBeNull();
    expect(feedOnly![0].data.membershipEvents.member).toBeNull();
    expect(JSON.stringify(feedOnly![0].data.membershipEvents.changes)).not.toContain("s0");

    // Each viewer's three streams: one computes each event, the two others share it.
    const after = await resultCounts(shared);
    expect(after.computed - before.computed).toBe(3 * changes);
    expect(after.shared - before.shared).toBe(2 * 3 * changes);
  });

  it("shares nothing between two tokens of one user", async () => {
    const other = await userWithToken(test.db, "twice@shared-results.example");
    await addMembership(test.db, fx.organization, other.user, "admin");
    const again = (await createApiToken(test.db.prisma, other.user.id, { name: "second" })).token;
    const streams = [subscribe(shared, other.token), subscribe(shared, again)];
    await Promise.all(streams.map((stream) => stream.open));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const before = await resultCounts(shared);
    const result = await gql(shared, fx.owner.token, UPDATE_MEMBER, { input: { memberId: fx.member.memberGid, publicMetadata: { twice: true } } });
    expect(result.errors).toBeUndefined();
    await until(() => streams.every((stream) => stream.results.length >= 1), "both streams' event");
    for (const stream of streams) stream.close();
    expect(streams[0]!.results).toEqual(streams[1]!.results);
    const after = await resultCounts(shared);
    expect(after.computed - before.computed).toBe(2);
    expect(after.shared - before.shared).toBe(0);
  });
});

describe("a stream's fields after each re-check", () => {
  const SUBJECT = `subscription($org: ID!) { membershipEvents(organizationId: $org) { revision member { id publicMetadata } } }`;

  it("show the subject as it is now, not as the stream first loaded it", async () => {
    const stream = subscribe(shared, fx.owner.token, SUBJECT);
    await stream.open;
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (let n = 1; n <= 3; n++) {
      const result = await gql(shared, fx.owner.token, UPDATE_MEMBER, { input: { memberId: fx.member.memberGid, publicMetadata: { now: n } } });
      expect(result.errors).toBeUndefined();
      await until(() => stream.results.length >= n, `event ${n}`);
    }
    stream.close();
    expect(stream.results.map((result) => result.data.membershipEvents.member.publicMetadata)).toEqual([{ now: 1 }, { now: 2 }, { now: 3 }]);
  });

  it("answer with the permissions the viewer holds now: members:read lost, events:read kept", async () => {
    const person = await userWithToken(test.db, "demoted@shared-results.example");
    const member = await addMembership(test.db, fx.organization, person.user, "admin");
    const streams = [subscribe(shared, person.token, SUBJECT), subscribe(shared, person.token, SUBJECT), subscribe(plain, person.token, SUBJECT)];
    await Promise.all(streams.map((stream) => stream.open));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const change = async (n: number) => {
      const result = await gql(shared, fx.owner.token, UPDATE_MEMBER, { input: { memberId: fx.member.memberGid, publicMetadata: { demoted: n } } });
      expect(result.errors).toBeUndefined();
      await until(() => streams.every((stream) => stream.results.length >= n), `event ${n}`);
    };
    await change(1);
    // Their role now holds events:read but not members:read (no event: only the check can tell).
    const role = await test.db.prisma.role.findFirstOrThrow({ where: { organizationId: fx.organization.id, key: "feed_reader" } });
    await test.db.prisma.member.update({ where: { id: member.id }, data: { roleId: role.id } });
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    await change(2);
    for (const stream of streams) stream.close();
    for (const stream of streams) {
      expect(stream.results[0].data.membershipEvents.member).toEqual({ id: fx.member.memberGid, publicMetadata: { demoted: 1 } });
      expect(stream.results[1].data.membershipEvents.member).toBeNull();
    }
  });
});
