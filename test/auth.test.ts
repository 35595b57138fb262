// Authentication: personal access tokens, anonymous callers, and refusals with UNAUTHENTICATED.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashSecret } from "../src/core/tokens.js";
import { createApiToken } from "../src/domain/api-tokens.js";
import { codes, createTestApp, organizationOf, userWithToken, type TestApp, type TestUser } from "./helpers.js";

let t: TestApp;
let alice: TestUser;

beforeAll(async () => {
  t = await createTestApp();
  alice = await userWithToken(t.db, "Alice@Example.com");
  await organizationOf(t.db, alice.user, "Alice's Org");
});
afterAll(() => t.close());

describe("tokens", () => {
  it("authenticates a valid token and records lastUsedAt", async () => {
    const result = await t.gql("{ viewer { email status } }", {}, alice.token);
    expect(result.errors).toBeUndefined();
    expect(result.data.viewer).toEqual({ email: "alice@example.com", status: "ACTIVE" });
    const stored = await t.db.prisma.apiToken.findFirstOrThrow({ where: { userId: alice.user.id } });
    expect(stored.lastUsedAt).not.toBeNull();
  });

  it("stores only the SHA-256 of the token and a short display prefix", async () => {
    const stored = await t.db.prisma.apiToken.findFirstOrThrow({ where: { userId: alice.user.id } });
    expect(stored.tokenHash).toBe(hashSecret(alice.token));
    expect(stored.tokenHash).not.toContain(alice.token.slice(4, 20));
    expect(alice.token).toMatch(/^pat_[A-Za-z0-9_-]{43}$/);
    expect(stored.prefix).toBe(alice.token.slice(0, 12));
  });

  it.each([
    ["a malformed header", "Token abc", "must be"],
    ["an unknown token", `Bearer pat_${"A".repeat(43)}`, "not valid"],
    ["a token of the wrong shape", "Bearer hello", "not valid"],
  ])("refuses %s with 401 UNAUTHENTICATED and no stack", async (_label, header, message) => {
    const response = await t.app.fetch("http://localhost/graphql", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: header },
      body: JSON.stringify({ query: "{ viewer { email } }" }),
    });
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toBe("Bearer");
    const body = await response.json();
    expect(body.errors[0].extensions.code).toBe("UNAUTHENTICATED");
    expect(body.errors[0].message).toContain(message);
    expect(JSON.stringify(body)).not.toMatch(/at .*\.ts:\d+/);
  });

  it("refuses a revoked token", async () => {
    const bob = await userWithToken(t.db, "bob@example.com");
    await t.db.prisma.apiToken.updateMany({ where: { userId: bob.user.id }, data: { revokedAt: new Date() } });
    const result = await t.gql("{ viewer { email } }", {}, bob.token);
    expect(result.status).toBe(401);
    expect(result.errors?.[0]?.message).toContain("revoked");
    expect(codes(result)).toEqual(["UNAUTHENTICATED"]);
  });

  it("refuses an expired token", async () => {
    const carol = await userWithToken(t.db, "carol@example.com");
    await t.db.prisma.apiToken.updateMany({ where: { userId: carol.user.id }, data: { expiresAt: new Date(Date.now() - 1000) } });
    const result = await t.gql("{ viewer { email } }", {}, carol.token);
    expect(result.errors?.[0]?.message).toContain("expired");
    expect(codes(result)).toEqual(["UNAUTHENTICATED"]);
  });

  it("refuses a suspended user's token", async () => {
    const dave = await userWithToken(t.db, "dave@example.com");
    await t.db.prisma.user.update({ where: { id: dave.user.id }, data: { status: "SUSPENDED" } });
    const result = await t.gql("{ viewer { email } }", {}, dave.token);
    expect(result.errors?.[0]?.message).toContain("suspended");
    expect(codes(result)).toEqual(["UNAUTHENTICATED"]);
  });

  it("creates tokens with an expiry and validates it", async () => {
    const { apiToken } = await createApiToken(t.db.prisma, alice.user.id, { name: "ci", expiresInDays: 7 });
    expect(apiToken.expiresAt!.getTime()).toBeGreaterThan(Date.now() + 6 * 86_400_000);
    await expect(createApiToken(t.db.prisma, alice.user.id, { name: "x", expiresInDays: 0 })).rejects.toMatchObject({
      code: "BAD_USER_INPUT",
    });
    await expect(createApiToken(t.db.prisma, alice.user.id, { name: "  " })).rejects.toMatchObject({ code: "BAD_USER_INPUT" });
  });
});

describe("anonymous callers", () => {
  it("see nothing private", async () => {
    for (const query of [
      "{ viewer { email } }",
      "{ organizations(first: 5) { totalCount } }",
      '{ organization(slug: "alices-org") { name } }',
    ]) {
      const result = await t.gql(query);
      expect(Object.values(result.data ?? {}).every((value) => value === null)).toBe(true);
      expect(codes(result)).toEqual(["UNAUTHENTICATED"]);
    }
  });

  it("can't load objects by node id", async () => {
    const org = await t.db.prisma.organization.findFirstOrThrow();
    const id = Buffer.from(`Organization:${org.id}`).toString("base64");
    const result = await t.gql("query($id: ID!) { node(id: $id) { id } }", { id });
    expect(result.data?.node ?? null).toBeNull();
    expect(codes(result)).toEqual(["UNAUTHENTICATED"]);
  });

  it("can read the schema (introspection)", async () => {
    const result = await t.gql("{ __schema { queryType { name } } }");
    expect(result.errors).toBeUndefined();
    expect(result.data.__schema.queryType.name).toBe("Query");
  });
});

describe("memberships read for the organizations a request touches", () => {
  it("answer permission checks however many organizations the user belongs to", async () => {
    const MEMBERSHIPS_WITH_USER = 200;
    const { SYSTEM_ROLES } = await import("../src/core/permissions.js");
    const many = await userWithToken(t.db, "many@example.com");
    const orgs = await t.db.prisma.organization.createManyAndReturn({
      data: Array.from({ length: MEMBERSHIPS_WITH_USER + 5 }, (_, i) => ({ slug: `many-${i}`, name: `Many ${i}`, createdById: many.user.id, ownerId: many.user.id })),
    });
    await t.db.prisma.member.createMany({
      data: orgs.map((org, i) => ({ organizationId: org.id, userId: many.user.id, roleId: i === 0 ? SYSTEM_ROLES.owner.id : SYSTEM_ROLES.member.id })),
    });
    const q = `query($id: ID!) { node(id: $id) { ... on Organization { slug viewerPermissions } } organizations(first: 1) { totalCount } }`;
    const first = await t.gql(q, { id: Buffer.from(`Organization:${orgs[0]!.id}`).toString("base64") }, many.token);
    expect(first.errors).toBeUndefined();
    expect(first.data.node.viewerPermissions).toContain("org:delete");
    expect(first.data.organizations.totalCount).toBe(MEMBERSHIPS_WITH_USER + 5);
    const last = await t.gql(q, { id: Buffer.from(`Organization:${orgs.at(-1)!.id}`).toString("base64") }, many.token);
    expect(last.data.node.viewerPermissions).toEqual(["locations:read", "members:read", "org:read", "roles:read"]);
  });
});
