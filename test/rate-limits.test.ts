// Rate limits stop a script, not a person: per-caller request budgets (HTTP 429 + Retry-After),
// failed authentications per address, and stricter budgets for invitation token guessing and
// the mutations that create people, invitations and tokens (RATE_LIMITED). With REDIS_URL two
// server instances share the counters.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, orgWithPeople, type OrgFixture, type TestApp } from "./helpers.js";

const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

/** Whether Redis answers; without it the shared-counter test is skipped (CI sets REQUIRE_REDIS=1 so it can't be). */
async function redisAnswers(): Promise<boolean> {
  const { Redis } = await import("ioredis");
  const client = new Redis(REDIS_URL, { lazyConnect: true, connectTimeout: 1_000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on("error", () => {});
  try {
    await client.connect();
    return (await client.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}
const REDIS_UP = process.env.REQUIRE_REDIS === "1" || (await redisAnswers());
if (!REDIS_UP) console.warn(`rate-limits.test: no Redis at ${REDIS_URL}; the shared-counter test is skipped (set TEST_REDIS_URL)`);

let t: TestApp;
let acme: OrgFixture;

beforeAll(async () => {
  t = await createTestApp({ RATE_LIMIT_REQUESTS: "40", RATE_LIMIT_AUTH_FAILURES: "5", RATE_LIMIT_INVITATION_ATTEMPTS: "3", RATE_LIMIT_SENSITIVE_WRITES: "4" });
  acme = await orgWithPeople(t.db, "acme");
});
afterAll(async () => {
  await t.app.dispose();
  await t.close();
});

describe("rate limits (in memory)", () => {
  it("refuses a caller over the request budget with 429 and Retry-After; others are unaffected", async () => {
    let last;
    for (let i = 0; i < 41; i++) last = await t.app.fetch("http://localhost/graphql", { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${acme.member.token}` }, body: JSON.stringify({ query: "{ viewer { id } }" }) });
    expect(last!.status).toBe(429);
    expect(Number(last!.headers.get("retry-after"))).toBeGreaterThan(0);
    const body = (await last!.json()) as any;
    expect(body.errors[0].extensions).toMatchObject({ code: "RATE_LIMITED" });
    expect(body.errors[0].extensions.retryAfterSeconds).toBeGreaterThan(0);
    expect((await t.gql("{ viewer { id } }", {}, acme.admin.token)).errors).toBeUndefined();
  });

  it("locks an address out after repeated failed authentications, even for a then-valid token", async () => {
    for (let i = 0; i < 5; i++) expect((await t.gql("{ viewer { id } }", {}, `pat_${"A".repeat(43)}`)).status).toBe(401);
    const locked = await t.gql("{ viewer { id } }", {}, acme.owner.token);
    expect(locked.status).toBe(429);
    expect(locked.errors?.[0]?.extensions?.code).toBe("RATE_LIMITED");
  });

  it("limits invitation token guessing and sensitive writes per caller, counting aliases", async () => {
    const fresh = await createTestApp({ RATE_LIMIT_INVITATION_ATTEMPTS: "3", RATE_LIMIT_SENSITIVE_WRITES: "2" });
    try {
      const fx = await orgWithPeople(fresh.db, "beta");
      const guesses = Array.from({ length: 4 }, (_, i) => `g${i}: acceptInvitation(input: { token: "inv_${"x".repeat(40)}${i}" }) { member { id } }`).join(" ");
      const guessed = await fresh.gql(`mutation { ${guesses} }`, {}, fx.member.token);
      expect(guessed.errors?.[0]?.extensions).toMatchObject({ code: "RATE_LIMITED", field: "acceptInvitation" });
      expect(guessed.data ?? null).toBeNull();
      const ADD = `mutation($input: AddMemberInput!) { addMember(input: $input) { member { id } } }`;
      for (let i = 0; i < 2; i++) expect((await fresh.gql(ADD, { input: { organizationId: fx.orgGid, email: `p${i}@beta.example` } }, fx.owner.token)).errors).toBeUndefined();
      const third = await fresh.gql(ADD, { input: { organizationId: fx.orgGid, email: "p3@beta.example" } }, fx.owner.token);
      expect(third.errors?.[0]?.extensions).toMatchObject({ code: "RATE_LIMITED" });
      expect(await fresh.db.prisma.user.count({ where: { email: "p3@beta.example" } })).toBe(0);
      // Reads go on.
      expect((await fresh.gql("{ viewer { id } }", {}, fx.owner.token)).errors).toBeUndefined();
    } finally {
      await fresh.app.dispose();
      await fresh.close();
    }
  });
});

describe.runIf(REDIS_UP)("rate limits shared through Redis", () => {
  it("two instances count one budget", async () => {
    const env = { REDIS_URL, RATE_LIMIT_KEY_PREFIX: `test:${randomUUID()}:`, RATE_LIMIT_REQUESTS: "6" };
    const one = await createTestApp(env);
    const two = await createTestApp(env);
    try {
      // Each test instance has its own throwaway database, so the shared budget is shown with
      // anonymous callers from one address: 6 requests spread over both, then both refuse.
      const anonymous = (app: TestApp) => app.app.fetch("http://localhost/graphql", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query: "{ __typename }" }) });
      const seen: number[] = [];
      for (let i = 0; i < 4; i++) seen.push((await anonymous(one)).status, (await anonymous(two)).status);
      expect(seen.slice(0, 6).every((status) => status === 200)).toBe(true);
      expect(seen.slice(6)).toEqual([429, 429]);
    } finally {
      await one.app.dispose();
      await two.app.dispose();
      await one.close();
      await two.close();
    }
  });
});
