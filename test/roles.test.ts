// Custom roles and the permission catalogue: validation, no escalation, system roles are
// read-only, and a role in use can't vanish without a new home for its members.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ALL_PERMISSIONS } from "../src/core/permissions.js";
import { codes, createTestApp, globalId, orgWithPeople, roleGid, type OrgFixture, type TestApp } from "./helpers.js";

let t: TestApp;
let acme: OrgFixture;
let other: OrgFixture;
let n = 0;

const CREATE = `mutation($input: CreateRoleInput!) { createRole(input: $input) { role { id key name description permissions isSystem isDefault memberCount organization { slug } } } }`;
const UPDATE = `mutation($input: UpdateRoleInput!) { updateRole(input: $input) { role { key name permissions isDefault } } }`;
const DELETE = `mutation($input: DeleteRoleInput!) { deleteRole(input: $input) { deletedRoleId } }`;

beforeAll(async () => {
  t = await createTestApp();
  other = await orgWithPeople(t.db, "other");
});
afterAll(() => t.close());
beforeEach(async () => {
  acme = await orgWithPeople(t.db, `acme${++n}`);
});

it("the permissions query lists the whole catalogue", async () => {
  const result = await t.gql("{ permissions { key description } }", {}, acme.member.token);
  expect(result.data.permissions.map((p: any) => p.key)).toEqual(ALL_PERMISSIONS);
  expect(result.data.permissions.every((p: any) => p.description.length > 0)).toBe(true);
  expect(codes(await t.gql("{ permissions { key } }"))).toEqual(["UNAUTHENTICATED"]);
});

describe("createRole", () => {
  it("creates a role with a key derived from its name, and audits it", async () => {
    const result = await t.gql(CREATE, { input: { organizationId: acme.orgGid, name: "Billing manager", description: "Pays the bills", permissions: ["members:read", "org:read", "org:read"] } }, acme.admin.token);
    expect(result.errors).toBeUndefined();
    expect(result.data.createRole.role).toMatchObject({
      key: "billing_manager",
      name: "Billing manager",
      permissions: ["members:read", "org:read"],
      isSystem: false,
      isDefault: false,
      memberCount: 0,
      organization: { slug: acme.organization.slug },
    });
    expect(await t.db.prisma.auditEvent.count({ where: { organizationId: acme.organization.id, action: "role.created" } })).toBe(1);
  });

  it("validates permissions, keys and names", async () => {
    const unknown = await t.gql(CREATE, { input: { organizationId: acme.orgGid, name: "X role", permissions: ["org:read", "org:own"] } }, acme.owner.token);
    expect(codes(unknown)).toEqual(["BAD_USER_INPUT"]);
    expect(unknown.errors![0]!.extensions!.unknownPermissions).toEqual(["org:own"]);
    expect(codes(await t.gql(CREATE, { input: { organizationId: acme.orgGid, name: "Admin", permissions: [] } }, acme.owner.token))).toEqual(["BAD_USER_INPUT"]);
    expect(codes(await t.gql(CREATE, { input: { organizationId: acme.orgGid, name: "Ok", key: "Bad Key!", permissions: [] } }, acme.owner.token))).toEqual(["BAD_USER_INPUT"]);
    expect(codes(await t.gql(CREATE, { input: { organizationId: acme.orgGid, name: " ", permissions: [] } }, acme.owner.token))).toEqual(["BAD_USER_INPUT"]);
    await t.gql(CREATE, { input: { organizationId: acme.orgGid, name: "Support", permissions: ["org:read"] } }, acme.owner.token);
    expect(codes(await t.gql(CREATE, { input: { organizationId: acme.orgGid, name: "Support", permissions: ["org:read"] } }, acme.owner.token))).toEqual(["CONFLICT"]);
  });

  it("refuses permissions beyond the caller's own, and callers without roles:create", async () => {
    const escalation = await t.gql(CREATE, { input: { organizationId: acme.orgGid, name: "Destroyer", permissions: ["org:delete"] } }, acme.admin.token);
    expect(codes(escalation)).toEqual(["FORBIDDEN"]);
    expect(codes(await t.gql(CREATE, { input: { organizationId: acme.orgGid, name: "Mine", permissions: ["org:read"] } }, acme.member.token))).toEqual(["FORBIDDEN"]);
    expect(codes(await t.gql(CREATE, { input: { organizationId: other.orgGid, name: "Mine", permissions: ["org:read"] } }, acme.owner.token))).toEqual(["NOT_FOUND"]);
  });

  it("makes a default role the one new members get", async () => {
    const created = await t.gql(CREATE, { input: { organizationId: acme.orgGid, name: "Newcomer", permissions: ["org:read"], isDefault: true } }, acme.owner.token);
    expect(created.data.createRole.role.isDefault).toBe(true);
    const added = await t.gql(`mutation($input: AddMemberInput!) { addMember(input: $input) { member { role { key } } } }`, { input: { organizationId: acme.orgGid, email: "fresh@example.com" } }, acme.owner.token);
    expect(added.data.addMember.member.role.key).toBe("newcomer");
  });
});

describe("updateRole / deleteRole", () => {
  async function customRole(permissions: string[] = ["org:read", "members:read"]) {
    const created = await t.gql(CREATE, { input: { organizationId: acme.orgGid, name: `Custom ${Math.random().toString(36).slice(2, 8)}`, permissions } }, acme.owner.token);
    return created.data.createRole.role.id as string;
  }

  it("edits a custom role within the editor's permissions", async () => {
    const roleId = await customRole();
    const result = await t.gql(UPDATE, { input: { roleId, name: "Renamed", permissions: ["org:read"], isDefault: true } }, acme.admin.token);
    expect(result.data.updateRole.role).toMatchObject({ name: "Renamed", permissions: ["org:read"], isDefault: true });
    expect(codes(await t.gql(UPDATE, { input: { roleId, permissions: ["org:read", "org:delete"] } }, acme.admin.token))).toEqual(["FORBIDDEN"]);
    expect(codes(await t.gql(UPDATE, { input: { roleId, permissions: ["bogus"] } }, acme.admin.token))).toEqual(["BAD_USER_INPUT"]);
  });

  it("won't let an admin edit a role more powerful than they are", async () => {
    const roleId = await customRole(["org:read", "org:delete"]);
    expect(codes(await t.gql(UPDATE, { input: { roleId, name: "Mine now" } }, acme.admin.token))).toEqual(["FORBIDDEN"]);
    expect(codes(await t.gql(DELETE, { input: { roleId } }, acme.admin.token))).toEqual(["FORBIDDEN"]);
  });

  it("never changes or deletes system roles", async () => {
    expect(codes(await t.gql(UPDATE, { input: { roleId: roleGid("member"), name: "Pwned" } }, acme.owner.token))).toEqual(["FORBIDDEN"]);
    expect(codes(await t.gql(DELETE, { input: { roleId: roleGid("admin") } }, acme.owner.token))).toEqual(["FORBIDDEN"]);
  });

  it("another organization's role reads as not found", async () => {
    const role = await t.db.prisma.role.create({ data: { organizationId: other.organization.id, key: "theirs", name: "Theirs", permissions: [] } });
    expect(codes(await t.gql(UPDATE, { input: { roleId: globalId("Role", role.id), name: "Mine" } }, acme.owner.token))).toEqual(["NOT_FOUND"]);
    expect(codes(await t.gql(DELETE, { input: { roleId: globalId("Role", role.id) } }, acme.owner.token))).toEqual(["NOT_FOUND"]);
  });

  it("deletes an unused role; a used one needs reassignToRoleId", async () => {
    const unused = await customRole();
    const gone = await t.gql(DELETE, { input: { roleId: unused } }, acme.admin.token);
    expect(gone.data.deleteRole.deletedRoleId).toBe(unused);

    const used = await customRole();
    await t.gql(`mutation($input: UpdateMemberRoleInput!) { updateMemberRole(input: $input) { member { id } } }`, { input: { memberId: acme.member.memberGid, roleId: used } }, acme.admin.token);
    const refused = await t.gql(DELETE, { input: { roleId: used } }, acme.admin.token);
    expect(codes(refused)).toEqual(["CONFLICT"]);
    expect(refused.errors![0]!.extensions).toMatchObject({ memberCount: 1, field: "reassignToRoleId" });
    expect(codes(await t.gql(DELETE, { input: { roleId: used, reassignToRoleId: roleGid("owner") } }, acme.admin.token))).toEqual(["FORBIDDEN"]);
    const moved = await t.gql(DELETE, { input: { roleId: used, reassignToRoleId: roleGid("member") } }, acme.admin.token);
    expect(moved.errors).toBeUndefined();
    const member = await t.db.prisma.member.findUniqueOrThrow({ where: { id: acme.member.memberId }, include: { role: true } });
    expect(member.role.key).toBe("member");
    const actions = (await t.db.prisma.auditEvent.findMany({ where: { organizationId: acme.organization.id, action: "role.deleted" } })).length;
    expect(actions).toBe(2);
  });
});
