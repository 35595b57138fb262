// Invitations are bound to an email, single use, expiring, and re-checked against the
// inviter's rights when accepted. Personal access tokens are shown once and revocable.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { codes, createTestApp, orgWithPeople, roleGid, userWithToken, type OrgFixture, type TestApp, type TestUser } from "./helpers.js";

let t: TestApp;
let acme: OrgFixture;
let other: OrgFixture;
let invitee: TestUser;
let n = 0;

const CREATE = `mutation($input: CreateInvitationInput!) { createInvitation(input: $input) {
  token invitation { id email status expiresAt roleName role { key } invitedBy { email } organizationName } } }`;
const ACCEPT = `mutation($token: String!) { acceptInvitation(input: { token: $token }) { member { status role { key } organization { slug } user { email } } } }`;
const DECLINE = `mutation($token: String!) { declineInvitation(input: { token: $token }) { invitation { status } } }`;
const REVOKE = `mutation($id: ID!) { revokeInvitation(input: { invitationId: $id }) { invitation { status } } }`;
const RESEND = `mutation($id: ID!) { resendInvitation(input: { invitationId: $id, expiresInDays: 3 }) { token invitation { status expiresAt } } }`;

async function invite(email: string, role?: "admin" | "member" | "owner", by: TestUser = acme.owner) {
  const result = await t.gql(CREATE, { input: { organizationId: acme.orgGid, email, ...(role ? { roleId: roleGid(role) } : {}) } }, by.token);
  expect(result.errors).toBeUndefined();
  return result.data.createInvitation as { token: string; invitation: { id: string; email: string } };
}

beforeAll(async () => {
  t = await createTestApp();
  other = await orgWithPeople(t.db, "other");
});
afterAll(() => t.close());
beforeEach(async () => {
  acme = await orgWithPeople(t.db, `acme${++n}`);
  invitee = await userWithToken(t.db, `invitee${n}@example.com`);
});

describe("createInvitation", () => {
  it("returns the secret once and stores only its hash", async () => {
    const { token, invitation } = await invite(invitee.user.email.toUpperCase(), "admin", acme.admin);
    expect(token).toMatch(/^inv_[A-Za-z0-9_-]{43}$/);
    expect(invitation).toMatchObject({ email: invitee.user.email, status: "PENDING", roleName: "Admin", role: { key: "admin" }, invitedBy: { email: acme.admin.user.email } });
    const stored = await t.db.prisma.invitation.findFirstOrThrow({ where: { email: invitee.user.email } });
    expect(JSON.stringify(stored)).not.toContain(token.slice(4));
    const expires = new Date(stored.expiresAt).getTime() - Date.now();
    expect(expires).toBeGreaterThan(6.9 * 86_400_000);
  });

  it("refuses members, escalation, duplicates and existing members", async () => {
    expect(codes(await t.gql(CREATE, { input: { organizationId: acme.orgGid, email: "a@example.com" } }, acme.member.token))).toEqual(["FORBIDDEN"]);
    expect(codes(await t.gql(CREATE, { input: { organizationId: acme.orgGid, email: "a@example.com", roleId: roleGid("owner") } }, acme.admin.token))).toEqual(["FORBIDDEN"]);
    await invite("dup@example.com");
    expect(codes(await t.gql(CREATE, { input: { organizationId: acme.orgGid, email: "DUP@example.com" } }, acme.owner.token))).toEqual(["CONFLICT"]);
    expect(codes(await t.gql(CREATE, { input: { organizationId: acme.orgGid, email: acme.member.user.email } }, acme.owner.token))).toEqual(["CONFLICT"]);
    expect(codes(await t.gql(CREATE, { input: { organizationId: acme.orgGid, email: "b@example.com", expiresInDays: 90 } }, acme.owner.token))).toEqual(["BAD_USER_INPUT"]);
    expect(codes(await t.gql(CREATE, { input: { organizationId: other.orgGid, email: "b@example.com" } }, acme.owner.token))).toEqual(["NOT_FOUND"]);
  });
});

describe("accepting and declining", () => {
  it("lets the invitee see and accept it, once", async () => {
    const { token } = await invite(invitee.user.email, "admin");
    const pending = await t.gql("{ viewer { invitations(first: 5) { totalCount edges { node { organizationName roleName status organization { id } } } } } }", {}, invitee.token);
    expect(pending.data.viewer.invitations).toEqual({
      totalCount: 1,
      edges: [{ node: { organizationName: acme.organization.name, roleName: "Admin", status: "PENDING", organization: null } }],
    });
    const accepted = await t.gql(ACCEPT, { token }, invitee.token);
    expect(accepted.errors).toBeUndefined();
    expect(accepted.data.acceptInvitation.member).toEqual({ status: "ACTIVE", role: { key: "admin" }, organization: { slug: acme.organization.slug }, user: { email: invitee.user.email } });
    const again = await t.gql(ACCEPT, { token }, invitee.token);
    expect(codes(again)).toEqual(["CONFLICT"]);
    const after = await t.gql("{ viewer { invitations(first: 5) { totalCount } } }", {}, invitee.token);
    expect(after.data.viewer.invitations.totalCount).toBe(0);
    const events = await t.db.prisma.auditEvent.findMany({ where: { organizationId: acme.organization.id, action: { startsWith: "invitation." } } });
    expect(events.map((event) => event.action).sort()).toEqual(["invitation.accepted", "invitation.created"]);
  });

  it("is useless to anyone but the invitee", async () => {
    const { token } = await invite(invitee.user.email);
    const thief = await userWithToken(t.db, `thief${n}@example.com`);
    expect(codes(await t.gql(ACCEPT, { token }, thief.token))).toEqual(["NOT_FOUND"]);
    expect(codes(await t.gql(DECLINE, { token }, thief.token))).toEqual(["NOT_FOUND"]);
    expect(codes(await t.gql(ACCEPT, { token }))).toEqual(["UNAUTHENTICATED"]);
    expect(codes(await t.gql(ACCEPT, { token: "inv_guess" }, invitee.token))).toEqual(["NOT_FOUND"]);
  });

  it("can't be accepted after it expires", async () => {
    const { token, invitation } = await invite(invitee.user.email);
    await t.db.prisma.invitation.updateMany({ where: { email: invitee.user.email }, data: { expiresAt: new Date(Date.now() - 1000) } });
    const listed = await t.gql(`query($id: ID!) { node(id: $id) { ... on Invitation { status } } }`, { id: invitation.id }, acme.owner.token);
    expect(listed.data.node.status).toBe("EXPIRED");
    expect(codes(await t.gql(ACCEPT, { token }, invitee.token))).toEqual(["INVITATION_EXPIRED"]);
    const stored = await t.db.prisma.invitation.findFirstOrThrow({ where: { email: invitee.user.email } });
    expect(stored.status).toBe("EXPIRED");
    expect(await t.db.prisma.member.count({ where: { organizationId: acme.organization.id, userId: invitee.user.id } })).toBe(0);
  });

  it("re-checks the inviter's authority at accept time", async () => {
    const { token } = await invite(invitee.user.email, "admin", acme.admin);
    await t.gql(`mutation($input: UpdateMemberRoleInput!) { updateMemberRole(input: $input) { member { id } } }`, { input: { memberId: acme.admin.memberGid, roleId: roleGid("member") } }, acme.owner.token);
    expect(codes(await t.gql(ACCEPT, { token }, invitee.token))).toEqual(["FORBIDDEN"]);
    expect(await t.db.prisma.member.count({ where: { organizationId: acme.organization.id, userId: invitee.user.id } })).toBe(0);
  });

  it("can be declined by the invitee, and then not accepted", async () => {
    const { token } = await invite(invitee.user.email);
    const declined = await t.gql(DECLINE, { token }, invitee.token);
    expect(declined.data.declineInvitation.invitation.status).toBe("DECLINED");
    expect(codes(await t.gql(ACCEPT, { token }, invitee.token))).toEqual(["CONFLICT"]);
  });

  it("activates a user who was created as INVITED", async () => {
    await t.gql(`mutation($input: AddMemberInput!) { addMember(input: $input) { member { id } } }`, { input: { organizationId: other.orgGid, email: `late${n}@example.com` } }, other.owner.token);
    const { token } = await invite(`late${n}@example.com`);
    const late = await userWithToken(t.db, `late${n}@example.com`); // signing in (getting a token) activates the account
    expect((await t.db.prisma.user.findUniqueOrThrow({ where: { id: late.user.id } })).status).toBe("ACTIVE");
    expect((await t.gql(ACCEPT, { token }, late.token)).errors).toBeUndefined();
  });
});

describe("managing invitations", () => {
  it("revokes a pending invitation", async () => {
    const { token, invitation } = await invite(invitee.user.email);
    expect(codes(await t.gql(REVOKE, { id: invitation.id }, acme.member.token))).toEqual(["FORBIDDEN"]);
    expect(codes(await t.gql(REVOKE, { id: invitation.id }, other.owner.token))).toEqual(["NOT_FOUND"]);
    const revoked = await t.gql(REVOKE, { id: invitation.id }, acme.admin.token);
    expect(revoked.data.revokeInvitation.invitation.status).toBe("REVOKED");
    expect(codes(await t.gql(ACCEPT, { token }, invitee.token))).toEqual(["CONFLICT"]);
    expect(codes(await t.gql(REVOKE, { id: invitation.id }, acme.admin.token))).toEqual(["CONFLICT"]);
  });

  it("resends with a new secret; the old one stops working", async () => {
    const { token: old, invitation } = await invite(invitee.user.email);
    const resent = await t.gql(RESEND, { id: invitation.id }, acme.admin.token);
    expect(resent.errors).toBeUndefined();
    const fresh = resent.data.resendInvitation.token;
    expect(fresh).not.toBe(old);
    expect(codes(await t.gql(ACCEPT, { token: old }, invitee.token))).toEqual(["NOT_FOUND"]);
    expect((await t.gql(ACCEPT, { token: fresh }, invitee.token)).errors).toBeUndefined();
  });

  it("lists the organization's invitations for invitations:read, filtered by status", async () => {
    await invite("one@example.com");
    const { invitation } = await invite("two@example.com");
    await t.gql(REVOKE, { id: invitation.id }, acme.owner.token);
    const q = `query($id: ID!, $status: InvitationStatus) { organization(id: $id) { invitations(first: 10, status: $status) { totalCount edges { node { email status } } } } }`;
    const all = await t.gql(q, { id: acme.orgGid }, acme.admin.token);
    expect(all.data.organization.invitations.totalCount).toBe(2);
    const pending = await t.gql(q, { id: acme.orgGid, status: "PENDING" }, acme.admin.token);
    expect(pending.data.organization.invitations.edges).toEqual([{ node: { email: "one@example.com", status: "PENDING" } }]);
    expect(codes(await t.gql(q, { id: acme.orgGid }, acme.member.token))).toContain("FORBIDDEN");
  });
});

describe("personal access tokens", () => {
  const CREATE_TOKEN = `mutation($input: CreateApiTokenInput!) { createApiToken(input: $input) { token apiToken { id name prefix expiresAt isActive } } }`;

  it("creates, lists (without secrets) and revokes the caller's own tokens", async () => {
    const created = await t.gql(CREATE_TOKEN, { input: { name: "laptop", expiresInDays: 30 } }, invitee.token);
    expect(created.errors).toBeUndefined();
    const { token, apiToken } = created.data.createApiToken;
    expect(apiToken).toMatchObject({ name: "laptop", prefix: token.slice(0, 12), isActive: true });
    expect((await t.gql("{ viewer { email } }", {}, token)).data.viewer.email).toBe(invitee.user.email);

    const listed = await t.gql("{ viewer { apiTokens(first: 10) { totalCount edges { node { name prefix lastUsedAt } } } } }", {}, invitee.token);
    expect(listed.data.viewer.apiTokens.totalCount).toBe(2);
    expect(JSON.stringify(listed.data)).not.toContain(token.slice(12));

    expect(codes(await t.gql(`mutation($id: ID!) { revokeApiToken(input: { apiTokenId: $id }) { apiToken { id } } }`, { id: apiToken.id }, acme.owner.token))).toEqual(["NOT_FOUND"]);
    const revoked = await t.gql(`mutation($id: ID!) { revokeApiToken(input: { apiTokenId: $id }) { apiToken { revokedAt isActive } } }`, { id: apiToken.id }, invitee.token);
    expect(revoked.data.revokeApiToken.apiToken.isActive).toBe(false);
    expect(codes(await t.gql("{ viewer { email } }", {}, token))).toEqual(["UNAUTHENTICATED"]);
    const events = await t.db.prisma.auditEvent.findMany({ where: { targetType: "ApiToken", actorUserId: invitee.user.id }, orderBy: { createdAt: "asc" } });
    expect(events.map((event) => event.action)).toEqual(["api_token.created", "api_token.revoked"]);
    expect(JSON.stringify(events)).not.toContain(token.slice(12));
  });

  it("validates names and lifetimes", async () => {
    expect(codes(await t.gql(CREATE_TOKEN, { input: { name: "" } }, invitee.token))).toEqual(["BAD_USER_INPUT"]);
    expect(codes(await t.gql(CREATE_TOKEN, { input: { name: "x", expiresInDays: 0 } }, invitee.token))).toEqual(["BAD_USER_INPUT"]);
    expect(codes(await t.gql(CREATE_TOKEN, { input: { name: "x" } }))).toEqual(["UNAUTHENTICATED"]);
  });

  it("other people's tokens are invisible", async () => {
    const mine = await t.db.prisma.apiToken.findFirstOrThrow({ where: { userId: invitee.user.id } });
    const id = Buffer.from(`ApiToken:${mine.id}`).toString("base64");
    expect((await t.gql(`query($id: ID!) { node(id: $id) { id } }`, { id }, acme.owner.token)).data.node).toBeNull();
    expect((await t.gql(`query($id: ID!) { node(id: $id) { id } }`, { id }, invitee.token)).data.node).toEqual({ id });
  });
});
