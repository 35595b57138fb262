// Organizations: createOrganization and the read side (organization, organizations, members,
// roles, viewerMembership, viewerPermissions), with pagination, filters and ordering.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SYSTEM_ROLES } from "../src/core/permissions.js";
import { addMembership, codes, createTestApp, globalId, userWithToken, type TestApp, type TestUser } from "./helpers.js";

let t: TestApp;
let owner: TestUser;

const CREATE = `mutation($input: CreateOrganizationInput!) {
  createOrganization(input: $input) {
    organization { id name slug timezone businessInformation memberCount viewerPermissions
      viewerMembership { role { key } status user { email } }
      owner { email } createdBy { email } }
  }
}`;

beforeAll(async () => {
  t = await createTestApp();
  owner = await userWithToken(t.db, "owner@example.com");
});
afterAll(() => t.close());

describe("createOrganization", () => {
  it("creates the organization with the caller as owner and writes an audit event", async () => {
    const result = await t.gql(CREATE, { input: { name: "  Acme, Inc.  ", timezone: "Europe/Berlin", businessInformation: "Anvils" } }, owner.token);
    expect(result.errors).toBeUndefined();
    const org = result.data.createOrganization.organization;
    expect(org).toMatchObject({
      name: "Acme, Inc.",
      slug: "acme-inc",
      timezone: "Europe/Berlin",
      businessInformation: "Anvils",
      memberCount: 1,
      viewerMembership: { role: { key: "owner" }, status: "ACTIVE", user: { email: "owner@example.com" } },
      owner: { email: "owner@example.com" },
      createdBy: { email: "owner@example.com" },
    });
    expect(org.viewerPermissions).toContain("org:delete");
    const events = await t.db.prisma.auditEvent.findMany({ where: { action: "organization.created" } });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ actorUserId: owner.user.id, targetType: "Organization" });
    expect(events[0]!.requestId).toBeTruthy();
  });

  it("derives a free slug when the name's slug is taken, but refuses a taken explicit slug", async () => {
    const again = await t.gql(CREATE, { input: { name: "Acme Inc" } }, owner.token);
    expect(again.errors).toBeUndefined();
    expect(again.data.createOrganization.organization.slug).toMatch(/^acme-inc-[0-9a-f]{6}$/);
    const taken = await t.gql(CREATE, { input: { name: "Other", slug: "acme-inc" } }, owner.token);
    expect(codes(taken)).toEqual(["CONFLICT"]);
    expect(taken.errors![0]!.extensions!.field).toBe("slug");
  });

  it.each([
    [{ name: "" }, "name"],
    [{ name: "x".repeat(101) }, "name"],
    [{ name: "Fine", slug: "Not A Slug" }, "slug"],
    [{ name: "Fine", slug: "-dash" }, "slug"],
    [{ name: "Fine", businessInformation: "x".repeat(2001) }, "businessInformation"],
  ])("rejects invalid input %j with BAD_USER_INPUT on %s", async (input, field) => {
    const result = await t.gql(CREATE, { input }, owner.token);
    expect(codes(result)).toEqual(["BAD_USER_INPUT"]);
    expect(result.errors![0]!.extensions!.field).toBe(field);
  });

  it("rejects an unknown time zone", async () => {
    const result = await t.gql(CREATE, { input: { name: "Tz", timezone: "Mars/Olympus" } }, owner.token);
    expect(result.errors).toHaveLength(1);
    expect(JSON.stringify(result.errors)).toMatch(/time ?zone/i);
  });

  it("requires authentication", async () => {
    const result = await t.gql(CREATE, { input: { name: "Anon" } });
    expect(codes(result)).toEqual(["UNAUTHENTICATED"]);
    expect(await t.db.prisma.organization.count({ where: { name: "Anon" } })).toBe(0);
  });
});

describe("reading organizations", () => {
  let orgId: string;
  let memberUser: TestUser;

  beforeAll(async () => {
    const created = await t.gql(CREATE, { input: { name: "Readers", slug: "readers" } }, owner.token);
    orgId = created.data.createOrganization.organization.id;
    const org = await t.db.prisma.organization.findUniqueOrThrow({ where: { slug: "readers" } });
    memberUser = await userWithToken(t.db, "member@example.com");
    await addMembership(t.db, org, memberUser.user, "member");
    const names = ["Zoe", "Yann", "Xavier", "Wanda", "Victor", "Uma", "Tariq", "Sara"];
    for (const [i, first] of names.entries()) {
      const user = await t.db.prisma.user.create({ data: { email: `${first.toLowerCase()}@readers.example`, firstName: first, lastName: `L${i}` } });
      await addMembership(t.db, org, user, i % 2 ? "admin" : "member", i === 7 ? "SUSPENDED" : "ACTIVE");
    }
  });

  it("finds an organization by id and by slug", async () => {
    const byId = await t.gql("query($id: ID!) { organization(id: $id) { slug } }", { id: orgId }, owner.token);
    expect(byId.data.organization.slug).toBe("readers");
    const bySlug = await t.gql('{ organization(slug: "readers") { id } }', {}, owner.token);
    expect(bySlug.data.organization.id).toBe(orgId);
    const neither = await t.gql("{ organization { id } }", {}, owner.token);
    expect(codes(neither)).toEqual(["BAD_USER_INPUT"]);
    const unknown = await t.gql('{ organization(slug: "nope") { id } }', {}, owner.token);
    expect(codes(unknown)).toEqual(["NOT_FOUND"]);
    const garbage = await t.gql('{ organization(id: "garbage") { id } }', {}, owner.token);
    expect(codes(garbage)).toEqual(["BAD_USER_INPUT"]);
  });

  it("lists only the viewer's organizations, with totalCount and cursors", async () => {
    const first = await t.gql("{ organizations(first: 2, orderBy: { field: NAME }) { totalCount pageInfo { hasNextPage endCursor } edges { node { name } } } }", {}, owner.token);
    expect(first.errors).toBeUndefined();
    expect(first.data.organizations.totalCount).toBe(3);
    expect(first.data.organizations.edges.map((e: any) => e.node.name)).toEqual(["Acme Inc", "Acme, Inc."]);
    const next = await t.gql("query($after: String) { organizations(first: 2, after: $after, orderBy: { field: NAME }) { pageInfo { hasNextPage } edges { node { name } } } }", { after: first.data.organizations.pageInfo.endCursor }, owner.token);
    expect(next.data.organizations.edges.map((e: any) => e.node.name)).toEqual(["Readers"]);
    expect(next.data.organizations.pageInfo.hasNextPage).toBe(false);
    const mine = await t.gql("{ organizations(first: 10) { totalCount edges { node { slug } } } }", {}, memberUser.token);
    expect(mine.data.organizations).toEqual({ totalCount: 1, edges: [{ node: { slug: "readers" } }] });
  });

  it("pages members with filters and ordering", async () => {
    const q = `query($id: ID!, $first: Int, $after: String, $filter: MemberFilter, $orderBy: MemberOrder) {
      organization(id: $id) { members(first: $first, after: $after, filter: $filter, orderBy: $orderBy) {
        totalCount pageInfo { hasNextPage endCursor } edges { node { status user { firstName } role { key } } } } } }`;
    const page1 = await t.gql(q, { id: orgId, first: 3, orderBy: { field: "FIRST_NAME" } }, owner.token);
    expect(page1.errors).toBeUndefined();
    const members = page1.data.organization.members;
    expect(members.totalCount).toBe(10);
    expect(members.edges.map((e: any) => e.node.user.firstName)).toEqual(["Sara", "Tariq", "Uma"]);
    const page2 = await t.gql(q, { id: orgId, first: 3, after: members.pageInfo.endCursor, orderBy: { field: "FIRST_NAME" } }, owner.token);
    expect(page2.data.organization.members.edges.map((e: any) => e.node.user.firstName)).toEqual(["Victor", "Wanda", "Xavier"]);

    const admins = await t.gql(q, { id: orgId, filter: { roleIds: [globalId("Role", SYSTEM_ROLES.admin.id)] } }, owner.token);
    expect(admins.data.organization.members.totalCount).toBe(4);
    expect(new Set(admins.data.organization.members.edges.map((e: any) => e.node.role.key))).toEqual(new Set(["admin"]));

    const suspended = await t.gql(q, { id: orgId, filter: { status: "SUSPENDED" } }, owner.token);
    expect(suspended.data.organization.members.edges.map((e: any) => e.node.user.firstName)).toEqual(["Sara"]);

    const search = await t.gql(q, { id: orgId, filter: { search: "WAN" } }, owner.token);
    expect(search.data.organization.members.edges.map((e: any) => e.node.user.firstName)).toEqual(["Wanda"]);
    const byEmail = await t.gql(q, { id: orgId, filter: { search: "@READERS.example" } }, owner.token);
    expect(byEmail.data.organization.members.totalCount).toBe(8);

    const desc = await t.gql(q, { id: orgId, first: 1, orderBy: { field: "EMAIL", direction: "DESC" } }, owner.token);
    expect(desc.data.organization.members.edges[0].node.user.firstName).toBe("Zoe");

    const badRole = await t.gql(q, { id: orgId, filter: { roleIds: ["nonsense"] } }, owner.token);
    expect(codes(badRole)).toEqual(["BAD_USER_INPUT"]);
  });

  it("pages members forwards and backwards in every order without gaps or repeats", async () => {
    const q = `query($id: ID!, $first: Int, $after: String, $last: Int, $before: String, $orderBy: MemberOrder) {
      organization(id: $id) { members(first: $first, after: $after, last: $last, before: $before, orderBy: $orderBy) {
        totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { cursor node { id } } } } }`;
    for (const field of ["JOINED_AT", "EMAIL", "FIRST_NAME", "LAST_NAME"]) {
      for (const direction of ["ASC", "DESC"]) {
        const orderBy = { field, direction };
        const all = await t.gql(q, { id: orgId, first: 100, orderBy }, owner.token);
        const expected = all.data.organization.members.edges.map((e: any) => e.node.id);
        expect(expected).toHaveLength(10);
        const forward: string[] = [];
        let after: string | null = null;
        for (;;) {
          const page: any = await t.gql(q, { id: orgId, first: 3, after, orderBy }, owner.token);
          const members = page.data.organization.members;
          expect(members.totalCount).toBe(10);
          forward.push(...members.edges.map((e: any) => e.node.id));
          if (!members.pageInfo.hasNextPage) break;
          after = members.pageInfo.endCursor;
        }
        expect(forward).toEqual(expected);
        const backward: string[] = [];
        let before: string | null = null;
        for (;;) {
          const page: any = await t.gql(q, { id: orgId, last: 4, before, orderBy }, owner.token);
          const members = page.data.organization.members;
          backward.unshift(...members.edges.map((e: any) => e.node.id));
          if (!members.pageInfo.hasPreviousPage) break;
          before = members.pageInfo.startCursor;
        }
        expect(backward, `${field} ${direction}`).toEqual(expected);
      }
    }
    const garbage = await t.gql(q, { id: orgId, first: 2, after: "not-a-cursor" }, owner.token);
    expect(codes(garbage)).toEqual(["BAD_USER_INPUT"]);
    const mixed = await t.gql(q, { id: orgId, first: 2, last: 2 }, owner.token);
    expect(codes(mixed)).toEqual(["BAD_USER_INPUT"]);
  });

  it("refuses page sizes above the maximum instead of truncating", async () => {
    const result = await t.gql("query($id: ID!) { organization(id: $id) { members(first: 1000) { totalCount } } }", { id: orgId }, owner.token);
    expect(codes(result)).toEqual(["BAD_USER_INPUT"]);
    expect(result.errors![0]!.message).toContain("maximum page size of 100");
    const viaVariable = await t.gql("query($n: Int) { organizations(first: $n) { totalCount } }", { n: 101 }, owner.token);
    expect(codes(viaVariable)).toEqual(["BAD_USER_INPUT"]);
    const negative = await t.gql("{ organizations(first: -1) { totalCount } }", {}, owner.token);
    expect(codes(negative)).toEqual(["BAD_USER_INPUT"]);
  });

  it("lists roles: system roles first, with member counts in this organization", async () => {
    const result = await t.gql("query($id: ID!) { organization(id: $id) { roles(first: 10) { totalCount edges { node { key isSystem isDefault permissions memberCount organization { id } } } } } }", { id: orgId }, owner.token);
    expect(result.errors).toBeUndefined();
    const roles = result.data.organization.roles;
    expect(roles.totalCount).toBe(3);
    expect(roles.edges.map((e: any) => [e.node.key, e.node.memberCount])).toEqual([["owner", 1], ["admin", 4], ["member", 5]]);
    expect(roles.edges[2].node).toMatchObject({ isSystem: true, isDefault: true, organization: null });
  });

  it("shows a member only what their role allows", async () => {
    const result = await t.gql(`query($id: ID!) { organization(id: $id) { viewerPermissions
      members(first: 1) { totalCount edges { node { publicMetadata user { email } } } } } }`, { id: orgId }, memberUser.token);
    expect(result.errors).toBeUndefined();
    expect(result.data.organization.viewerPermissions).toEqual(["locations:read", "members:read", "org:read", "roles:read"]);
    const hidden = await t.gql("query($id: ID!) { organization(id: $id) { privateMetadata } }", { id: orgId }, memberUser.token);
    expect(codes(hidden)).toEqual(["FORBIDDEN"]);
    const privateMember = await t.gql("query($id: ID!) { organization(id: $id) { members(first: 1) { edges { node { privateMetadata } } } } }", { id: orgId }, memberUser.token);
    expect(codes(privateMember)).toContain("FORBIDDEN");
  });

  it("viewer.memberships lists the caller's organizations", async () => {
    const result = await t.gql("{ viewer { memberships(first: 10) { totalCount edges { node { organization { slug } role { key } } } } } }", {}, memberUser.token);
    expect(result.data.viewer.memberships).toEqual({ totalCount: 1, edges: [{ node: { organization: { slug: "readers" }, role: { key: "member" } } }] });
  });
});
