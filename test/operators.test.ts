// Platform operators: granted only outside the API, they list all users, suspend and unsuspend
// accounts (a suspended user's old token and JWT stop at once), and read any organization for
// support — recorded in its audit trail — without being able to change it or act as its owner.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setOperator } from "../src/domain/operators.js";
import { codes, createTestApp, globalId, orgWithPeople, reasons, userWithToken, type OrgFixture, type TestApp, type TestUser } from "./helpers.js";
import { startIdentityProvider, type IdentityProvider } from "./fixtures/identity-provider.js";

let idp: IdentityProvider;
let t: TestApp;
let acme: OrgFixture;
let operator: TestUser;

beforeAll(async () => {
  idp = await startIdentityProvider();
  t = await createTestApp(idp.env);
  acme = await orgWithPeople(t.db, "acme");
  operator = await userWithToken(t.db, "ops@platform.example");
  await setOperator(t.db.prisma, "ops@platform.example", true); // npm run cli -- grant-operator --email …
});
afterAll(async () => {
  await t.close();
  await idp.close();
});

const USERS = `query($filter: UserFilter) { users(first: 50, filter: $filter) { totalCount edges { node { email status isOperator } } } }`;
const SUSPEND = `mutation($input: SuspendUserInput!) { suspendUser(input: $input) { user { status } } }`;
const UNSUSPEND = `mutation($input: UnsuspendUserInput!) { unsuspendUser(input: $input) { user { status } } }`;

describe("operators", () => {
  it("list every user, with a filter; nobody else can", async () => {
    const all = await t.gql(USERS, {}, operator.token);
    expect(all.errors).toBeUndefined();
    expect(all.data.users.totalCount).toBeGreaterThanOrEqual(4);
    const filtered = await t.gql(USERS, { filter: { search: "ADMIN@acme" } }, operator.token);
    expect(filtered.data.users.edges.map((e: any) => e.node.email)).toEqual(["admin@acme.example"]);
    expect(codes(await t.gql(USERS, {}, acme.owner.token))).toEqual(["FORBIDDEN"]);
    expect((await t.gql(`{ viewer { isOperator } }`, {}, operator.token)).data.viewer.isOperator).toBe(true);
  });

  it("suspend a user everywhere: their token and JWT stop at once; unsuspending restores them", async () => {
    const victim = await userWithToken(t.db, "suspect@acme.example");
    await t.db.prisma.user.update({ where: { id: victim.user.id }, data: { externalId: "idp|suspect" } });
    await t.db.prisma.member.create({ data: { organizationId: acme.organization.id, userId: victim.user.id, roleId: "00000000-0000-7000-8000-000000000003" } });
    const jwt = await idp.sign("idp|suspect");
    expect((await t.gql(`{ viewer { email } }`, {}, victim.token)).errors).toBeUndefined();

    const input = { userId: globalId("User", victim.user.id) };
    expect(reasons(await t.gql(SUSPEND, { input }, acme.owner.token))).toEqual(["MISSING_PERMISSION"]);
    const suspended = await t.gql(SUSPEND, { input }, operator.token);
    expect(suspended.data.suspendUser.user.status).toBe("SUSPENDED");
    for (const token of [victim.token, jwt]) {
      const refused = await t.gql(`{ viewer { email } }`, {}, token);
      expect(refused.status).toBe(401);
      expect(refused.errors?.[0]).toMatchObject({ message: "This account is suspended", extensions: { code: "UNAUTHENTICATED" } });
    }
    // The membership stays, granting nothing.
    expect(await t.db.prisma.member.count({ where: { userId: victim.user.id } })).toBe(1);
    expect(await t.db.prisma.auditEvent.count({ where: { targetId: victim.user.id, action: "user.suspended", actorUserId: operator.user.id } })).toBe(1);

    expect((await t.gql(UNSUSPEND, { input }, operator.token)).data.unsuspendUser.user.status).toBe("ACTIVE");
    expect((await t.gql(`{ viewer { email } }`, {}, victim.token)).errors).toBeUndefined();
  });

  it("can't suspend themselves", async () => {
    const self = await t.gql(SUSPEND, { input: { userId: globalId("User", operator.user.id) } }, operator.token);
    expect(self.errors?.[0]?.extensions).toMatchObject({ code: "FORBIDDEN", reason: "SELF" });
  });

  it("read any organization for support, recorded in its audit trail, but change nothing", async () => {
    const read = await t.gql(
      `query($id: ID!) { organization(id: $id) { name members(first: 5) { totalCount } viewerPermissions viewerCan { update delete transferOwnership } } }`,
      { id: acme.orgGid },
      operator.token,
    );
    expect(read.errors).toBeUndefined();
    expect(read.data.organization.name).toBe("ACME");
    expect(read.data.organization.members.totalCount).toBeGreaterThanOrEqual(3);
    expect(read.data.organization.viewerPermissions).not.toContain("org:update");
    expect(read.data.organization.viewerCan).toEqual({ update: false, delete: false, transferOwnership: false });
    await expect.poll(() => t.db.prisma.auditEvent.count({ where: { organizationId: acme.organization.id, action: "operator.organization_read", actorUserId: operator.user.id } })).toBeGreaterThanOrEqual(1);

    await t.gql(`mutation($input: UpdateMemberInput!) { updateMember(input: $input) { member { id } } }`, { input: { memberId: acme.member.memberGid, privateMetadata: { salary: 100 } } }, acme.owner.token);
    const trail = await t.gql(`query($id: ID!) { organization(id: $id) { auditEvents(first: 50) { edges { node { action after } } } } }`, { id: acme.orgGid }, operator.token);
    const updated = trail.data.organization.auditEvents.edges.map((e: any) => e.node).find((n: any) => n.action === "member.updated");
    expect(updated.after.privateMetadata).toBe("[redacted]");
    expect(JSON.stringify(trail.data)).not.toContain("salary");
    const privateData = await t.gql(`query($id: ID!) { node(id: $id) { ... on Member { privateMetadata } } }`, { id: acme.member.memberGid }, operator.token);
    expect(codes(privateData)).toEqual(["FORBIDDEN"]);
    const update = await t.gql(`mutation($input: UpdateOrganizationInput!) { updateOrganization(input: $input) { organization { name } } }`, { input: { organizationId: acme.orgGid, name: "Hijacked" } }, operator.token);
    expect(reasons(update)).toEqual(["MISSING_PERMISSION"]);
    const del = await t.gql(`mutation($input: DeleteOrganizationInput!) { deleteOrganization(input: $input) { deletedOrganizationId } }`, { input: { organizationId: acme.orgGid } }, operator.token);
    expect(reasons(del)).toEqual(["OWNER_ONLY"]);
    const transfer = await t.gql(`mutation($input: TransferOwnershipInput!) { transferOwnership(input: $input) { organization { id } } }`, { input: { organizationId: acme.orgGid, toMemberId: acme.admin.memberGid } }, operator.token);
    expect(reasons(transfer)).toEqual(["OWNER_ONLY"]);
    expect((await t.db.prisma.organization.findUniqueOrThrow({ where: { id: acme.organization.id } })).name).toBe("ACME");
    // Their own list stays their own organizations.
    expect((await t.gql(`{ organizations(first: 5) { totalCount } }`, {}, operator.token)).data.organizations.totalCount).toBe(0);
  });

  it("the role is granted only outside the API, and can be taken back", async () => {
    const fields = await t.gql(`{ __schema { mutationType { fields { name } } } }`, {}, operator.token);
    expect(fields.data.__schema.mutationType.fields.map((f: any) => f.name).filter((n: string) => /operator/i.test(n))).toEqual([]);
    await setOperator(t.db.prisma, "ops@platform.example", false);
    expect(codes(await t.gql(USERS, {}, operator.token))).toEqual(["FORBIDDEN"]);
    await setOperator(t.db.prisma, "ops@platform.example", true);
  });
});
