// Isolation: a caller sees only organizations they are an active member of, and IDs from
// another organization read exactly like IDs that do not exist.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SYSTEM_ROLES } from "../src/core/permissions.js";
import type { Member, Organization } from "../src/generated/prisma/client.js";
import { addMembership, codes, createTestApp, globalId, organizationOf, userWithToken, type TestApp, type TestUser } from "./helpers.js";

let t: TestApp;
let alice: TestUser; // owner of Alpha
let mallory: TestUser; // owner of Beta, no business in Alpha
let sam: TestUser; // suspended member of Alpha
let alpha: Organization;
let beta: Organization;
let aliceInAlpha: Member;
let customRoleId: string;

const NODE = `query($id: ID!) { node(id: $id) { id __typename } }`;

beforeAll(async () => {
  t = await createTestApp();
  alice = await userWithToken(t.db, "alice@alpha.example");
  mallory = await userWithToken(t.db, "mallory@beta.example");
  sam = await userWithToken(t.db, "sam@alpha.example");
  alpha = await organizationOf(t.db, alice.user, "Alpha", "alpha");
  beta = await organizationOf(t.db, mallory.user, "Beta", "beta");
  aliceInAlpha = await t.db.prisma.member.findFirstOrThrow({ where: { organizationId: alpha.id, userId: alice.user.id } });
  await addMembership(t.db, alpha, sam.user, "admin", "SUSPENDED");
  const role = await t.db.prisma.role.create({
    data: { organizationId: alpha.id, key: "secret_role", name: "Secret role", permissions: ["org:read"] },
  });
  customRoleId = role.id;
});
afterAll(() => t.close());

describe("cross-organization access", () => {
  it("node(id:) returns null for another organization's objects, exactly as for unknown ids", async () => {
    const foreign = [
      globalId("Organization", alpha.id),
      globalId("Member", aliceInAlpha.id),
      globalId("User", alice.user.id),
      globalId("Role", customRoleId),
    ];
    for (const id of foreign) {
      const result = await t.gql(NODE, { id }, mallory.token);
      expect(result).toEqual({ status: 200, data: { node: null }, errors: undefined });
    }
    const unknown = await t.gql(NODE, { id: globalId("Organization", "0190a0a0-0000-7000-8000-000000000000") }, mallory.token);
    expect(unknown).toEqual({ status: 200, data: { node: null }, errors: undefined });
    const malformed = await t.gql(NODE, { id: globalId("Organization", "not-a-uuid") }, mallory.token);
    expect(malformed.data.node).toBeNull();
    expect(codes(malformed)).not.toContain("INTERNAL_SERVER_ERROR");
  });

  it("nodes(ids:) returns the caller's objects and nulls for the rest", async () => {
    const result = await t.gql("query($ids: [ID!]!) { nodes(ids: $ids) { __typename ... on Organization { slug } } }", {
      ids: [globalId("Organization", beta.id), globalId("Organization", alpha.id)],
    }, mallory.token);
    expect(result.data.nodes).toEqual([{ __typename: "Organization", slug: "beta" }, null]);
  });

  it("system roles are visible to any signed-in caller", async () => {
    const result = await t.gql(`query($id: ID!) { node(id: $id) { ... on Role { key memberCount } } }`, { id: globalId("Role", SYSTEM_ROLES.owner.id) }, mallory.token);
    expect(result.data.node).toEqual({ key: "owner", memberCount: null });
  });

  it("organization(id:) and organization(slug:) answer NOT_FOUND, as for unknown ones", async () => {
    const byId = await t.gql("query($id: ID!) { organization(id: $id) { name } }", { id: globalId("Organization", alpha.id) }, mallory.token);
    const bySlug = await t.gql('{ organization(slug: "alpha") { name } }', {}, mallory.token);
    const unknown = await t.gql('{ organization(slug: "does-not-exist") { name } }', {}, mallory.token);
    for (const result of [byId, bySlug]) {
      expect(codes(result)).toEqual(["NOT_FOUND"]);
      expect(result.errors![0]!.message).toBe(unknown.errors![0]!.message);
      expect(result.data.organization).toBeNull();
    }
  });

  it("organizations lists only the caller's own", async () => {
    const result = await t.gql("{ organizations(first: 50) { totalCount edges { node { slug } } } }", {}, mallory.token);
    expect(result.data.organizations).toEqual({ totalCount: 1, edges: [{ node: { slug: "beta" } }] });
  });

  it("a foreign role id in a member filter matches nothing", async () => {
    const result = await t.gql(`query($id: ID!, $roles: [ID!]) { organization(id: $id) { members(first: 5, filter: { roleIds: $roles }) { totalCount } } }`, {
      id: globalId("Organization", beta.id),
      roles: [globalId("Role", customRoleId)],
    }, mallory.token);
    expect(result.errors).toBeUndefined();
    expect(result.data.organization.members.totalCount).toBe(0);
  });

  it("users of other organizations are invisible, even as inviters", async () => {
    const intruder = await t.db.prisma.member.create({
      data: { organizationId: beta.id, userId: (await userWithToken(t.db, "eve@beta.example")).user.id, roleId: SYSTEM_ROLES.member.id, invitedById: alice.user.id },
    });
    const result = await t.gql(`query($id: ID!) { node(id: $id) { ... on Member { user { email } invitedBy { email } } } }`, { id: globalId("Member", intruder.id) }, mallory.token);
    expect(result.errors).toBeUndefined();
    expect(result.data.node).toEqual({ user: { email: "eve@beta.example" }, invitedBy: null });
  });
});

describe("suspended members", () => {
  it("have no permissions in the organization", async () => {
    const list = await t.gql("{ organizations(first: 5) { totalCount } }", {}, sam.token);
    expect(list.data.organizations.totalCount).toBe(0);
    const direct = await t.gql("query($id: ID!) { node(id: $id) { id } }", { id: globalId("Organization", alpha.id) }, sam.token);
    expect(direct.data.node).toBeNull();
  });

  it("still see their own membership, with no permissions", async () => {
    const result = await t.gql("{ viewer { memberships(first: 5) { edges { node { status role { key } } } } } }", {}, sam.token);
    expect(result.errors).toBeUndefined();
    expect(result.data.viewer.memberships.edges).toEqual([{ node: { status: "SUSPENDED", role: { key: "admin" } } }]);
  });
});

describe("viewer.memberships", () => {
  it("is only readable by the user themselves", async () => {
    const result = await t.gql(`query($id: ID!) { node(id: $id) { ... on Member { user { memberships(first: 5) { totalCount } } } } }`, { id: globalId("Member", aliceInAlpha.id) }, alice.token);
    expect(result.errors).toBeUndefined();
    const member = await addMembership(t.db, alpha, mallory.user, "admin");
    const other = await t.gql(`query($id: ID!) { node(id: $id) { ... on Member { user { email memberships(first: 5) { totalCount } } } } }`, { id: globalId("Member", member.id) }, alice.token);
    expect(codes(other)).toEqual(["FORBIDDEN"]);
    await t.db.prisma.member.delete({ where: { id: member.id } });
  });
});
