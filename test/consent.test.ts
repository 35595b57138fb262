// Membership consent (issue 15, findings 2 and 3): a stranger who owns only an organization of
// their own adds someone else's address. The attacks of the black-box pass, replayed: learning
// who holds an address, making a victim the sole owner of an organization she never joined,
// a placeholder account blocking the address's real holder, the organization seeing a phone
// after the person's first sign-in, and the small leaks of the audit trail and contact points.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setOperator, verifyEmailByOperator, verifyPhoneByOperator } from "../src/domain/operators.js";
import { codes, createTestApp, globalId, organizationOf, reasons, roleGid, userWithToken, type TestApp, type TestUser } from "./helpers.js";
import { startIdentityProvider, type IdentityProvider } from "./fixtures/identity-provider.js";

let idp: IdentityProvider;
let t: TestApp;
let stranger: TestUser;
let strangerOrg: string;
let dana: TestUser;
/** Dana's pending membership in the stranger's organization (by her second address). */
let danaInEvil: string;

const PERSON = `id email name firstName lastName imageUrl timezone status username emails { email isVerified } phones { phoneNumber }`;
const ADD = `mutation($input: AddMemberInput!) { addMember(input: $input) { member { id status user { ${PERSON} } } } }`;
const MEMBERS = `query($org: ID!, $search: String, $order: MemberOrderField!) { node(id: $org) { ... on Organization {
  members(first: 50, filter: { search: $search }, orderBy: { field: $order }) { totalCount edges { node { id status user { email name } } } } } } }`;
const MY_MEMBERSHIPS = `{ viewer { memberships(first: 20) { edges { node { id status role { key } organization { id name } } } } } }`;
const ACCEPT = `mutation($m: ID!) { acceptMembership(input: { memberId: $m }) { member { id status role { key } user { email name } } } }`;
const DECLINE = `mutation($m: ID!) { declineMembership(input: { memberId: $m }) { removedMemberId } }`;
const LEAVE = `mutation($org: ID!) { leaveOrganization(input: { organizationId: $org }) { removedMemberId } }`;
const AUDIT = `query($org: ID!) { node(id: $org) { ... on Organization { auditEvents(first: 50) { edges { node { action actorEmail actor { id } viaApiTokenId requestId before after } } } } } }`;

const rawId = (gid: string) => Buffer.from(gid, "base64").toString().split(":")[1];

async function add(email: string, extra: Record<string, unknown> = {}, org = strangerOrg, token = stranger.token) {
  const result = await t.gql(ADD, { input: { organizationId: org, email, ...extra } }, token);
  expect(result.errors).toBeUndefined();
  return result.data.addMember.member;
}

beforeAll(async () => {
  idp = await startIdentityProvider();
  t = await createTestApp({ ...idp.env, RATE_LIMITS: "false" });
  stranger = await userWithToken(t.db, "stranger@evil.example");
  strangerOrg = globalId("Organization", (await organizationOf(t.db, stranger.user, "Evil", "evil")).id);
  // Dana: an account with a name, a time zone, a verified second address and a verified phone.
  dana = await userWithToken(t.db, "dana@work.example");
  await t.db.prisma.user.update({ where: { id: dana.user.id }, data: { firstName: "Dana", lastName: "Scully", timezone: "Europe/Berlin", imageUrl: "https://img.example/dana.png" } });
  await verifyEmailByOperator(t.db.prisma, "dana@personal.example", "dana@work.example");
  await verifyPhoneByOperator(t.db.prisma, "+14155550100", "dana@work.example");
});
afterAll(async () => {
  await t.close();
  await idp.close();
});

describe("adding someone tells the adder nothing they didn't type", () => {
  it("an existing account and an unknown address answer alike: the address typed, INVITED, no name, no other detail", async () => {
    const known = await add("dana@personal.example");
    const unknown = await add("nobody-yet@personal.example");
    danaInEvil = known.id;
    for (const [member, email] of [[known, "dana@personal.example"], [unknown, "nobody-yet@personal.example"]] as const) {
      expect(member.status).toBe("PENDING");
      expect(member.user).toEqual({
        id: member.user.id, email, name: null, firstName: null, lastName: null, imageUrl: null, timezone: null, status: "INVITED", username: null,
        emails: [{ email, isVerified: false }], phones: [],
      });
    }
    // Not the account's id (a time-ordered id would tell an old account from a new placeholder).
    expect(known.user.id).not.toBe(globalId("User", dana.user.id));
    for (const id of [known.user.id, globalId("User", dana.user.id)]) {
      const node = await t.gql(`query($id: ID!) { node(id: $id) { id } }`, { id }, stranger.token);
      expect(node.data.node).toBeNull();
    }
  });

  it("later reads show the same: search and sort by the account's name or primary email find nothing of it", async () => {
    const byName = await t.gql(MEMBERS, { org: strangerOrg, search: "Scully", order: "LAST_NAME" }, stranger.token);
    expect(byName.errors).toBeUndefined();
    expect(byName.data.node.members.totalCount).toBe(0);
    const byPrimary = await t.gql(MEMBERS, { org: strangerOrg, search: "dana@work", order: "EMAIL" }, stranger.token);
    expect(byPrimary.data.node.members.totalCount).toBe(0);
    const byTyped = await t.gql(MEMBERS, { org: strangerOrg, search: "dana@personal", order: "EMAIL" }, stranger.token);
    expect(byTyped.data.node.members.edges.map((e: any) => e.node.user)).toEqual([{ email: "dana@personal.example", name: null }]);
    // Sorted by the address typed, not by the account's primary one.
    const sorted = await t.gql(MEMBERS, { org: strangerOrg, order: "EMAIL" }, stranger.token);
    expect(sorted.data.node.members.edges.map((e: any) => e.node.user.email)).toEqual(["dana@personal.example", "nobody-yet@personal.example", "stranger@evil.example"]);
    // The audit trail says what was typed, never the account behind it.
    const audit = await t.gql(AUDIT, { org: strangerOrg }, stranger.token);
    const added = audit.data.node.auditEvents.edges.map((e: any) => e.node).filter((e: any) => e.action === "member.added");
    expect(added.map((e: any) => e.after.email).sort()).toEqual(["dana@personal.example", "nobody-yet@personal.example"]);
    for (const event of added) expect(event.after).not.toHaveProperty("userId");
  });

  it("filter.userIds finds a member by their account only once they accepted: a pending one's account id finds nothing", async () => {
    const query = `query($org: ID!, $users: [ID!]) { node(id: $org) { ... on Organization { members(first: 5, filter: { userIds: $users }) { totalCount edges { node { id } } } } } }`;
    const pending = await t.gql(query, { org: strangerOrg, users: [globalId("User", dana.user.id)] }, stranger.token);
    expect(pending.errors).toBeUndefined();
    expect(pending.data.node.members).toEqual({ totalCount: 0, edges: [] });
    const accepted = await t.gql(query, { org: strangerOrg, users: [globalId("User", stranger.user.id), globalId("User", dana.user.id)] }, stranger.token);
    expect(accepted.data.node.members.totalCount).toBe(1);
  });

  it("the federation entity of the account isn't reachable through the pending membership", async () => {
    const result = await t.gql(`query($r: [_Any!]!) { _entities(representations: $r) { ... on User { email name } } }`, { r: [{ __typename: "User", email: "dana@work.example" }, { __typename: "User", id: globalId("User", dana.user.id) }] }, stranger.token);
    expect(codes(result)).toEqual(["NOT_FOUND", "NOT_FOUND"]);
  });
});

describe("nobody owns what they didn't accept", () => {
  let org: string;
  let danaMember: string;
  let victimOrgOwner: TestUser;

  it("a pending owner doesn't count: the adder can't leave them as the sole owner", async () => {
    victimOrgOwner = await userWithToken(t.db, "stranger2@evil.example");
    org = globalId("Organization", (await organizationOf(t.db, victimOrgOwner.user, "Evil Two", "evil-two")).id);
    danaMember = (await add("dana@personal.example", { roleId: roleGid("owner") }, org, victimOrgOwner.token)).id;
    const leave = await t.gql(LEAVE, { org }, victimOrgOwner.token);
    expect(codes(leave)).toEqual(["LAST_OWNER"]);
    // Nor suspend, reactivate or hand ownership to a membership nobody accepted.
    const suspend = await t.gql(`mutation($m: ID!) { suspendMember(input: { memberId: $m }) { member { status } } }`, { m: danaMember }, victimOrgOwner.token);
    expect(reasons(suspend)).toEqual(["INVALID_STATE"]);
    const reactivate = await t.gql(`mutation($m: ID!) { reactivateMember(input: { memberId: $m }) { member { status } } }`, { m: danaMember }, victimOrgOwner.token);
    expect(reasons(reactivate)).toEqual(["INVALID_STATE"]);
    const transfer = await t.gql(`mutation($o: ID!, $m: ID!) { transferOwnership(input: { organizationId: $o, toMemberId: $m }) { organization { id } } }`, { o: org, m: danaMember }, victimOrgOwner.token);
    expect(reasons(transfer)).toEqual(["INELIGIBLE"]);
  });

  it("the person sees the pending membership and its organization, holds nothing there, and can decline it", async () => {
    const mine = await t.gql(MY_MEMBERSHIPS, {}, dana.token);
    expect(mine.errors).toBeUndefined();
    const pending = mine.data.viewer.memberships.edges.map((e: any) => e.node).filter((m: any) => m.status === "PENDING");
    expect(pending.map((m: any) => m.organization.name).sort()).toEqual(["Evil", "Evil Two"]);
    // The organization itself reads as unknown by id; through the membership it shows, and nothing in it does.
    const byId = await t.gql(`query($o: ID!) { node(id: $o) { id } }`, { o: org }, dana.token);
    expect(byId.data.node).toBeNull();
    const members = await t.gql(`{ viewer { memberships(first: 5) { edges { node { organization { name members(first: 5) { totalCount } } } } } } }`, {}, dana.token);
    expect(new Set(codes(members))).toEqual(new Set(["FORBIDDEN"]));
    const checks = await t.gql(`query($o: ID!) { checkPermissions(organizationId: $o, permissions: ["org:read", "org:delete"]) { allowed reason } }`, { o: org }, dana.token);
    expect(checks.data.checkPermissions).toEqual([{ allowed: false, reason: "NOT_ACCEPTED" }, { allowed: false, reason: "NOT_ACCEPTED" }]);
    const declined = await t.gql(DECLINE, { m: danaMember }, dana.token);
    expect(declined.errors).toBeUndefined();
    expect(declined.data.declineMembership.removedMemberId).toBe(danaMember);
    // The organization's trail shows the address it used, not Dana's primary one.
    const audit = await t.gql(AUDIT, { org }, victimOrgOwner.token);
    const event = audit.data.node.auditEvents.edges.map((e: any) => e.node).find((e: any) => e.action === "member.declined");
    expect(event.actorEmail).toBe("dana@personal.example");
    expect(event.before.email).toBe("dana@personal.example");
    expect(event.before).not.toHaveProperty("userId");
    // Nor her account, her token or her request behind it.
    expect(event).toMatchObject({ actor: null, viaApiTokenId: null, requestId: null });
  });

  it("another address of someone already added (or already a member) collides with nothing: each is its own pending member", async () => {
    const first = await add("dana@work.example", {}, org, victimOrgOwner.token);
    const second = await add("dana@personal.example", {}, org, victimOrgOwner.token);
    const third = await add("dana@third-guess.example", {}, org, victimOrgOwner.token);
    for (const member of [first, second, third]) expect(member).toMatchObject({ status: "PENDING", user: { status: "INVITED", name: null } });
    expect(new Set([first.id, second.id, third.id]).size).toBe(3);
    // The same address twice is the adder's own knowledge: CONFLICT naming it.
    const again = await t.gql(ADD, { input: { organizationId: org, email: "dana@personal.example" } }, victimOrgOwner.token);
    expect(again.errors?.[0]?.extensions).toMatchObject({ code: "CONFLICT", memberId: rawId(second.id) });
    // Dana accepts one, then the other: it merges into her membership.
    expect((await t.gql(ACCEPT, { m: first.id }, dana.token)).data.acceptMembership.member.status).toBe("ACTIVE");
    const merged = await t.gql(ACCEPT, { m: second.id }, dana.token);
    expect(merged.data.acceptMembership.member.id).toBe(first.id);
    const seen = await t.gql(MEMBERS, { org, search: "dana", order: "EMAIL" }, victimOrgOwner.token);
    expect(seen.data.node.members.edges.map((e: any) => [e.node.status, e.node.user.email])).toEqual([["PENDING", "dana@third-guess.example"], ["ACTIVE", "dana@work.example"]]);
    // A secondary address of an accepted member is one more pending member too, not a CONFLICT.
    const fourth = await add("dana@personal.example", {}, org, victimOrgOwner.token);
    expect(fourth).toMatchObject({ status: "PENDING", user: { email: "dana@personal.example", status: "INVITED" } });
    // Only the address the organization sees for an accepted member collides.
    const primary = await t.gql(ADD, { input: { organizationId: org, email: "dana@work.example" } }, victimOrgOwner.token);
    expect(primary.errors?.[0]?.extensions).toMatchObject({ code: "CONFLICT", memberId: rawId(first.id) });
    // Leaving ends her membership only: ending the pending ones with it would tie their addresses to her.
    expect(codes(await t.gql(LEAVE, { org }, dana.token))).toEqual([]);
    const left = await t.gql(MEMBERS, { org, search: "dana", order: "EMAIL" }, victimOrgOwner.token);
    expect(left.data.node.members.edges.map((e: any) => e.node.id).sort()).toEqual([fourth.id, third.id].sort());
    // One pending membership and nothing else: leaving declines it.
    expect(codes(await t.gql(LEAVE, { org }, dana.token))).toEqual([]);
    // Several pending ones and nothing else: each is answered on its own.
    await add("dana@work.example", {}, org, victimOrgOwner.token);
    const other = await add("dana@personal.example", {}, org, victimOrgOwner.token);
    expect(reasons(await t.gql(LEAVE, { org }, dana.token))).toEqual(["INVALID_STATE"]);
    expect(codes(await t.gql(DECLINE, { m: other.id }, dana.token))).toEqual([]);
    expect(codes(await t.gql(LEAVE, { org }, dana.token))).toEqual([]);
  });

  it("the same address again is a CONFLICT even after its holder dropped it: nothing tells what changed behind it", async () => {
    const wes = await userWithToken(t.db, "wes@work.example");
    await verifyEmailByOperator(t.db.prisma, "wes@home.example", "wes@work.example");
    const first = await add("wes@home.example", {}, org, victimOrgOwner.token);
    const emailId = (await t.gql(`{ viewer { emails { id email } } }`, {}, wes.token)).data.viewer.emails.find((e: any) => e.email === "wes@home.example").id;
    expect(codes(await t.gql(`mutation($id: ID!) { removeEmail(input: { emailId: $id }) { user { email } } }`, { id: emailId }, wes.token))).toEqual([]);
    const again = await t.gql(ADD, { input: { organizationId: org, email: "wes@home.example" } }, victimOrgOwner.token);
    expect(again.errors?.[0]?.extensions).toMatchObject({ code: "CONFLICT", memberId: rawId(first.id) });
  });

  it("the person sees the role they were offered, even a custom one, and can always decline: also where no owner is active", async () => {
    const boss = await userWithToken(t.db, "boss@lonely.example");
    const lonely = globalId("Organization", (await organizationOf(t.db, boss.user, "Lonely", "lonely")).id);
    const role = await t.gql(`mutation($o: ID!) { createRole(input: { organizationId: $o, name: "Helper", permissions: ["org:read"] }) { role { id } } }`, { o: lonely }, boss.token);
    const member = await add("dana@personal.example", { roleId: role.data.createRole.role.id }, lonely, boss.token);
    const mine = await t.gql(MY_MEMBERSHIPS, {}, dana.token);
    expect(mine.errors).toBeUndefined();
    expect(mine.data.viewer.memberships.edges.map((e: any) => e.node)).toContainEqual({ id: member.id, status: "PENDING", role: { key: "helper" }, organization: { id: lonely, name: "Lonely" } });
    await t.db.prisma.user.update({ where: { id: boss.user.id }, data: { status: "SUSPENDED" } });
    expect(codes(await t.gql(DECLINE, { m: member.id }, dana.token))).toEqual([]);
  });

  it("accepting makes the membership active: the organization sees the account from then on", async () => {
    const accepted = await t.gql(ACCEPT, { m: danaInEvil }, dana.token);
    expect(accepted.errors).toBeUndefined();
    expect(accepted.data.acceptMembership.member).toMatchObject({ status: "ACTIVE", role: { key: "member" }, user: { email: "dana@work.example", name: "Dana Scully" } });
    const again = await t.gql(ACCEPT, { m: danaInEvil }, dana.token);
    expect(reasons(again)).toEqual(["INVALID_STATE"]);
    // Someone else's membership reads as unknown.
    const foreign = await t.gql(ACCEPT, { m: danaInEvil }, stranger.token);
    expect(codes(foreign)).toEqual(["NOT_FOUND"]);
    const seen = await t.gql(MEMBERS, { org: strangerOrg, search: "Scully", order: "EMAIL" }, stranger.token);
    expect(seen.data.node.members.edges.map((e: any) => e.node.user)).toEqual([{ email: "dana@work.example", name: "Dana Scully" }]);
    // She chose it: the owner (members:read_private) now sees her phone too.
    const phones = await t.gql(`query($o: ID!) { node(id: $o) { ... on Organization { members(first: 5, filter: { search: "Scully" }) { edges { node { user { phones { phoneNumber } } } } } } } }`, { o: strangerOrg }, stranger.token);
    expect(phones.data.node.members.edges[0].node.user.phones).toEqual([{ phoneNumber: "+14155550100" }]);
  });
});

describe("a placeholder never blocks the address's real holder", () => {
  it("verifying the address on one's own account takes the placeholder's memberships over (still pending), and the address can become primary", async () => {
    const pat = await userWithToken(t.db, "pat@old.example");
    const member = await add("pat@new.example", { roleId: roleGid("admin") });
    const addEmail = await t.gql(`mutation { addEmail(input: { email: "pat@new.example" }) { user { emails { id email isVerified } } } }`, {}, pat.token);
    expect(addEmail.errors).toBeUndefined();
    const updatedAt = async () => (await t.gql(`query($m: ID!) { node(id: $m) { ... on Member { updatedAt version } } }`, { m: member.id }, stranger.token)).data.node;
    const before = await updatedAt();
    // An operator can't vouch for the placeholder itself.
    await expect(verifyEmailByOperator(t.db.prisma, "pat@new.example", "pat@new.example")).rejects.toThrow(/placeholder/);
    await verifyEmailByOperator(t.db.prisma, "pat@new.example", "pat@old.example");
    // Nothing the organization sees moves.
    expect(await updatedAt()).toEqual(before);
    const mine = await t.gql(MY_MEMBERSHIPS, {}, pat.token);
    expect(mine.data.viewer.memberships.edges.map((e: any) => e.node)).toEqual([{ id: member.id, status: "PENDING", role: { key: "admin" }, organization: { id: strangerOrg, name: "Evil" } }]);
    const emailId = (await t.gql(`{ viewer { emails { id email } } }`, {}, pat.token)).data.viewer.emails.find((e: any) => e.email === "pat@new.example").id;
    const primary = await t.gql(`mutation($id: ID!) { setPrimaryEmail(input: { emailId: $id }) { user { email } } }`, { id: emailId }, pat.token);
    expect(primary.errors).toBeUndefined();
    expect(primary.data.setPrimaryEmail.user.email).toBe("pat@new.example");
    // The organization still sees the same pending member with the address it typed.
    const seen = await t.gql(MEMBERS, { org: strangerOrg, search: "pat@", order: "EMAIL" }, stranger.token);
    expect(seen.data.node.members.edges.map((e: any) => e.node)).toEqual([{ id: member.id, status: "PENDING", user: { email: "pat@new.example", name: null } }]);
    expect(await t.db.prisma.user.count({ where: { email: "pat@new.example" } })).toBe(1);
  });

  it("where the holder already is a member, the placeholder's membership still follows them, pending: the organization sees no change", async () => {
    const quinn = await userWithToken(t.db, "quinn@old.example");
    const old = await add("quinn@old.example");
    await t.gql(ACCEPT, { m: old.id }, quinn.token);
    const fresh = await add("quinn@new.example");
    const look = async () => (await t.gql(MEMBERS, { org: strangerOrg, search: "quinn", order: "EMAIL" }, stranger.token)).data.node.members.edges.map((e: any) => e.node);
    const before = await look();
    await verifyEmailByOperator(t.db.prisma, "quinn@new.example", "quinn@old.example");
    expect(await look()).toEqual(before);
    expect(before.map((m: any) => [m.id, m.status, m.user.email])).toEqual([[fresh.id, "PENDING", "quinn@new.example"], [old.id, "ACTIVE", "quinn@old.example"]]);
    // Accepting it merges it into Quinn's membership.
    expect((await t.gql(ACCEPT, { m: fresh.id }, quinn.token)).data.acceptMembership.member.id).toBe(old.id);
    expect((await look()).map((m: any) => m.id)).toEqual([old.id]);
  });

  it("an operator's suspend and unsuspend leave a placeholder a placeholder", async () => {
    const member = await add("uma@new.example");
    const ops = await userWithToken(t.db, "ops2@platform.example");
    await setOperator(t.db.prisma, "ops2@platform.example", true);
    const placeholder = await t.db.prisma.user.findUniqueOrThrow({ where: { email: "uma@new.example" } });
    for (const name of ["suspendUser", "unsuspendUser"]) {
      const result = await t.gql(`mutation($u: ID!) { ${name}(input: { userId: $u }) { user { status } } }`, { u: globalId("User", placeholder.id) }, ops.token);
      expect(result.errors).toBeUndefined();
    }
    expect((await t.db.prisma.user.findUniqueOrThrow({ where: { id: placeholder.id } })).status).toBe("INVITED");
    const uma = await userWithToken(t.db, "uma@old.example");
    await verifyEmailByOperator(t.db.prisma, "uma@new.example", "uma@old.example");
    const mine = await t.gql(MY_MEMBERSHIPS, {}, uma.token);
    expect(mine.data.viewer.memberships.edges.map((e: any) => e.node.id)).toEqual([member.id]);
  });

  it("a first sign-in with the address takes the placeholder over; the organization sees no phone until the person accepts", async () => {
    const member = await add("rita@new.example");
    const placeholder = await t.db.prisma.user.findUniqueOrThrow({ where: { email: "rita@new.example" } });
    const jwt = await idp.sign("idp|rita", { email: "rita@new.example", email_verified: true, phone_number: "+14155550199", phone_number_verified: true, given_name: "Rita" });
    const mine = await t.gql(MY_MEMBERSHIPS, {}, jwt);
    expect(mine.data.viewer.memberships.edges.map((e: any) => e.node.status)).toEqual(["PENDING"]);
    const phones = `query($o: ID!) { node(id: $o) { ... on Organization { members(first: 5, filter: { search: "rita" }) { edges { node { user { status phones { phoneNumber } } } } } } } }`;
    const before = await t.gql(phones, { o: strangerOrg }, stranger.token);
    expect(before.data.node.members.edges[0].node.user).toEqual({ status: "INVITED", phones: [] });
    expect((await t.gql(ACCEPT, { m: member.id }, jwt)).data.acceptMembership.member.status).toBe("ACTIVE");
    const after = await t.gql(phones, { o: strangerOrg }, stranger.token);
    expect(after.data.node.members.edges[0].node.user).toEqual({ status: "ACTIVE", phones: [{ phoneNumber: "+14155550199" }] });
    // A new account, not the placeholder: its id and dates don't tell when someone first added the address.
    const rita = await t.db.prisma.user.findUniqueOrThrow({ where: { email: "rita@new.example" } });
    expect(rita.id).not.toBe(placeholder.id);
    expect(rita).toMatchObject({ isPlaceholder: false, invitedAt: null, externalId: "idp|rita" });
    expect(rita.createdAt.getTime()).toBeGreaterThan(placeholder.createdAt.getTime());
    expect(await t.db.prisma.user.findUnique({ where: { id: placeholder.id } })).toBeNull();
  });
});

describe("small leaks", () => {
  it("declining an invitation shows the invited address in the inviter's trail, not the invitee's primary one", async () => {
    const owner = await userWithToken(t.db, "owner@inviter.example");
    const org = globalId("Organization", (await organizationOf(t.db, owner.user, "Inviter", "inviter")).id);
    const invited = await t.gql(`mutation($o: ID!) { createInvitation(input: { organizationId: $o, email: "dana@personal.example" }) { token } }`, { o: org }, owner.token);
    const declined = await t.gql(`mutation($t: String!) { declineInvitation(input: { token: $t }) { invitation { status } } }`, { t: invited.data.createInvitation.token }, dana.token);
    expect(declined.errors).toBeUndefined();
    const audit = await t.gql(AUDIT, { org }, owner.token);
    const event = audit.data.node.auditEvents.edges.map((e: any) => e.node).find((e: any) => e.action === "invitation.declined");
    expect(event.actorEmail).toBe("dana@personal.example");
  });

  it("adding an address or number another account holds verified says nothing about that account", async () => {
    const eve = await userWithToken(t.db, "eve@evil.example");
    const email = await t.gql(`mutation { addEmail(input: { email: "dana@personal.example" }) { user { emails { email isVerified } } } }`, {}, eve.token);
    const fresh = await t.gql(`mutation { addEmail(input: { email: "never-used@personal.example" }) { user { emails { email isVerified } } } }`, {}, eve.token);
    expect(email.errors).toBeUndefined();
    expect(fresh.errors).toBeUndefined();
    expect(email.data.addEmail.user.emails).toContainEqual({ email: "dana@personal.example", isVerified: false });
    const phone = await t.gql(`mutation { addPhone(input: { phoneNumber: "+14155550100" }) { user { phones { phoneNumber isVerified } } } }`, {}, eve.token);
    expect(phone.errors).toBeUndefined();
    expect(phone.data.addPhone.user.phones).toEqual([{ phoneNumber: "+14155550100", isVerified: false }]);
    // Verification still decides: Dana keeps the address.
    await expect(verifyEmailByOperator(t.db.prisma, "dana@personal.example", "eve@evil.example")).rejects.toThrow();
  });

  it("an operator's checkPermissions on an organization that doesn't exist is NOT_FOUND, and writes no audit row", async () => {
    const ops = await userWithToken(t.db, "ops@platform.example");
    await setOperator(t.db.prisma, "ops@platform.example", true);
    const rows = await t.db.prisma.auditEvent.count();
    const missing = globalId("Organization", "0190aaaa-0000-7000-8000-000000000000");
    const result = await t.gql(`query($o: ID!) { checkPermissions(organizationId: $o, permissions: ["org:read"]) { allowed reason } }`, { o: missing }, ops.token);
    expect(result.data.checkPermissions).toEqual([{ allowed: false, reason: "NOT_FOUND" }]);
    expect(await t.db.prisma.auditEvent.count()).toBe(rows);
    // An existing organization is still readable, and the read is recorded, without the operator's email for the organization.
    const read = await t.gql(`query($o: ID!) { checkPermissions(organizationId: $o, permissions: ["org:read"]) { allowed } }`, { o: strangerOrg }, ops.token);
    expect(read.data.checkPermissions).toEqual([{ allowed: true }]);
    // The read is recorded beside the request, not before its answer: wait for the row.
    for (let i = 0; i < 100 && (await t.db.prisma.auditEvent.count({ where: { action: "operator.organization_read" } })) === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    const audit = await t.gql(AUDIT, { org: strangerOrg }, stranger.token);
    const event = audit.data.node.auditEvents.edges.map((e: any) => e.node).find((e: any) => e.action === "operator.organization_read");
    expect(event).toMatchObject({ actorEmail: null, actor: null });
  });

  it("audit:read alone shows no people: emails and user ids in events are redacted, and actors are hidden", async () => {
    const role = await t.gql(
      `mutation($o: ID!) { createRole(input: { organizationId: $o, name: "Auditor", permissions: ["org:read", "audit:read"] }) { role { id } } }`,
      { o: strangerOrg },
      stranger.token,
    );
    const auditor = await userWithToken(t.db, "auditor@evil.example");
    await t.db.prisma.member.create({ data: { organizationId: (await t.db.prisma.organization.findUniqueOrThrow({ where: { slug: "evil" } })).id, userId: auditor.user.id, roleId: Buffer.from(role.data.createRole.role.id, "base64").toString().split(":")[1]! } });
    const audit = await t.gql(AUDIT, { org: strangerOrg }, auditor.token);
    expect(audit.errors).toBeUndefined();
    const events = audit.data.node.auditEvents.edges.map((e: any) => e.node);
    const added = events.filter((e: any) => e.action === "member.added");
    expect(added.length).toBeGreaterThan(0);
    for (const event of added) expect(event.after.email).toBe("[redacted]");
    for (const event of events) expect(event).toMatchObject({ actorEmail: null, actor: null });
  });
});
