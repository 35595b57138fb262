// A user's contact points: several emails and phones, primary and verified, a username;
// verification through the identity provider's JWT or the operator; who sees what; and
// invitations reaching any verified address. Attacked with a stolen verified address.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyEmailByOperator, verifyPhoneByOperator } from "../src/domain/operators.js";
import { addMembership, codes, createTestApp, globalId, orgWithPeople, reasons, userWithToken, type OrgFixture, type TestApp, type TestUser } from "./helpers.js";
import { startIdentityProvider, type IdentityProvider } from "./fixtures/identity-provider.js";

let idp: IdentityProvider;
let t: TestApp;
let acme: OrgFixture;
let zoe: TestUser;

const ME = `{ viewer { email username emails { id email isPrimary isVerified verifiedAt } phones { id phoneNumber isPrimary isVerified } } }`;
const ADD_EMAIL = `mutation($input: AddEmailInput!) { addEmail(input: $input) { user { emails { email isVerified } } } }`;
const SET_PRIMARY = `mutation($input: SetPrimaryEmailInput!) { setPrimaryEmail(input: $input) { user { email } } }`;
const REMOVE_EMAIL = `mutation($input: RemoveEmailInput!) { removeEmail(input: $input) { user { email emails { email } } } }`;
const ADD_PHONE = `mutation($input: AddPhoneInput!) { addPhone(input: $input) { user { phones { id phoneNumber isPrimary } } } }`;

async function me(token: string) {
  const result = await t.gql(ME, {}, token);
  expect(result.errors).toBeUndefined();
  return result.data.viewer;
}

beforeAll(async () => {
  idp = await startIdentityProvider();
  t = await createTestApp(idp.env);
  acme = await orgWithPeople(t.db, "acme");
  zoe = await userWithToken(t.db, "zoe@acme.example");
  await addMembership(t.db, acme.organization, zoe.user, "member");
});
afterAll(async () => {
  await t.close();
  await idp.close();
});

describe("emails", () => {
  it("every user starts with their primary address, verified when an operator or a provider vouched for it", async () => {
    expect((await me(zoe.token)).emails).toMatchObject([{ email: "zoe@acme.example", isPrimary: true, isVerified: true }]);
  });

  it("adds an unverified address that can't become primary until it is verified", async () => {
    const added = await t.gql(ADD_EMAIL, { input: { email: "Zoe@Home.example" } }, zoe.token);
    expect(added.data.addEmail.user.emails).toContainEqual({ email: "zoe@home.example", isVerified: false });
    const again = await t.gql(ADD_EMAIL, { input: { email: "zoe@home.example" } }, zoe.token);
    expect(again.errors?.[0]?.extensions).toMatchObject({ code: "CONFLICT", field: "email" });
    const home = (await me(zoe.token)).emails.find((e: any) => e.email === "zoe@home.example");
    const early = await t.gql(SET_PRIMARY, { input: { emailId: home.id } }, zoe.token);
    expect(early.errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "emailId" });

    // The operator verifies it (npm run cli -- verify-email --email zoe@home.example).
    await verifyEmailByOperator(t.db.prisma, "zoe@home.example");
    const primary = await t.gql(SET_PRIMARY, { input: { emailId: home.id } }, zoe.token);
    expect(primary.data.setPrimaryEmail.user.email).toBe("zoe@home.example");
    const emails = (await me(zoe.token)).emails;
    expect(emails[0]).toMatchObject({ email: "zoe@home.example", isPrimary: true, isVerified: true });
    expect(emails[0].verifiedAt).not.toBeNull();
  });

  it("a verified address belongs to one account: someone else's can be added only unverified (saying nothing of its holder), never verified", async () => {
    const mallory = await userWithToken(t.db, "mallory@evil.example");
    const stolen = await t.gql(ADD_EMAIL, { input: { email: "zoe@acme.example" } }, mallory.token);
    expect(stolen.errors).toBeUndefined();
    expect(stolen.data.addEmail.user.emails).toContainEqual({ email: "zoe@acme.example", isVerified: false });
    // Even a provider that claims the address verified doesn't move it.
    await t.db.prisma.user.update({ where: { id: mallory.user.id }, data: { externalId: "idp|mallory" } });
    const jwt = await idp.sign("idp|mallory", { email: "zoe@acme.example", email_verified: true });
    const viewer = await t.gql(ME, {}, jwt);
    expect(viewer.data.viewer.email).toBe("mallory@evil.example");
    expect(viewer.data.viewer.emails.map((e: any) => [e.email, e.isVerified])).toEqual([["mallory@evil.example", true], ["zoe@acme.example", false]]);
    await expect(verifyEmailByOperator(t.db.prisma, "zoe@acme.example", "mallory@evil.example")).rejects.toThrow(/another account/);
    // Other people's addresses read as unknown.
    const zoeEmail = (await me(zoe.token)).emails[0].id;
    expect((await t.gql(REMOVE_EMAIL, { input: { emailId: zoeEmail } }, mallory.token)).errors?.[0]?.extensions).toMatchObject({ code: "NOT_FOUND", field: "emailId" });
    expect((await t.gql(REMOVE_EMAIL, { input: { emailId: globalId("UserPhone", "00000000-0000-7000-8000-000000000000") } }, mallory.token)).errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "emailId" });
  });

  it("a sign-in whose provider verifies a new address verifies it for that user", async () => {
    await t.db.prisma.user.update({ where: { id: zoe.user.id }, data: { externalId: "idp|zoe" } });
    const jwt = await idp.sign("idp|zoe", { email: "zoe@work.example", email_verified: true });
    await t.gql(ME, {}, jwt);
    expect((await me(zoe.token)).emails).toContainEqual(expect.objectContaining({ email: "zoe@work.example", isVerified: true, isPrimary: false }));
    expect(await t.db.prisma.auditEvent.count({ where: { targetId: zoe.user.id, action: "user.verified_by_sign_in" } })).toBe(1);
  });

  it("the primary can't be removed while no other verified address can replace it", async () => {
    const solo = await userWithToken(t.db, "solo@acme.example");
    const only = (await me(solo.token)).emails[0].id;
    expect((await t.gql(REMOVE_EMAIL, { input: { emailId: only } }, solo.token)).errors?.[0]?.extensions).toMatchObject({ code: "CONFLICT", field: "emailId" });
    const zoeEmails = (await me(zoe.token)).emails;
    const primary = zoeEmails.find((e: any) => e.isPrimary);
    const removed = await t.gql(REMOVE_EMAIL, { input: { emailId: primary.id } }, zoe.token);
    expect(removed.errors).toBeUndefined();
    expect(removed.data.removeEmail.user.email).not.toBe(primary.email);
  });
});

describe("phones and username", () => {
  it("adds E.164 numbers; the first is primary; malformed ones name the field", async () => {
    const bad = await t.gql(ADD_PHONE, { input: { phoneNumber: "555-CALL-ME" } }, zoe.token);
    expect(bad.errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "phoneNumber" });
    const first = await t.gql(ADD_PHONE, { input: { phoneNumber: "+14155550123" } }, zoe.token);
    expect(first.data.addPhone.user.phones).toEqual([expect.objectContaining({ phoneNumber: "+14155550123", isPrimary: true })]);
    const second = await t.gql(ADD_PHONE, { input: { phoneNumber: "+442071838750" } }, zoe.token);
    const uk = second.data.addPhone.user.phones.find((p: any) => p.phoneNumber === "+442071838750");
    const made = await t.gql(`mutation($input: SetPrimaryPhoneInput!) { setPrimaryPhone(input: $input) { user { phones { phoneNumber isPrimary } } } }`, { input: { phoneId: uk.id } }, zoe.token);
    expect(made.data.setPrimaryPhone.user.phones[0]).toEqual({ phoneNumber: "+442071838750", isPrimary: true });
    await verifyPhoneByOperator(t.db.prisma, "+14155550123", (await me(zoe.token)).email);
    const other = await userWithToken(t.db, "other-phone@acme.example");
    // Someone else's verified number is added unverified, saying nothing of its holder; it can't be verified.
    const taken = await t.gql(ADD_PHONE, { input: { phoneNumber: "+14155550123" } }, other.token);
    expect(taken.data.addPhone.user.phones).toEqual([expect.objectContaining({ phoneNumber: "+14155550123", isPrimary: true })]);
    expect((await t.db.prisma.userPhone.findFirstOrThrow({ where: { userId: other.user.id } })).isVerified).toBe(false);
    await expect(verifyPhoneByOperator(t.db.prisma, "+14155550123", "other-phone@acme.example")).rejects.toThrow();
    const removed = await t.gql(`mutation($input: RemovePhoneInput!) { removePhone(input: $input) { user { phones { phoneNumber isPrimary } } } }`, { input: { phoneId: uk.id } }, zoe.token);
    expect(removed.data.removePhone.user.phones).toEqual([{ phoneNumber: "+14155550123", isPrimary: true }]);
  });

  it("usernames are unique case-insensitively and validated", async () => {
    const SET = `mutation($input: SetUsernameInput!) { setUsername(input: $input) { user { username } } }`;
    expect((await t.gql(SET, { input: { username: "Zoe.Q" } }, zoe.token)).data.setUsername.user.username).toBe("zoe.q");
    const taken = await t.gql(SET, { input: { username: "ZOE.Q" } }, acme.member.token);
    expect(taken.errors?.[0]?.extensions).toMatchObject({ code: "CONFLICT", field: "username" });
    const bad = await t.gql(SET, { input: { username: "no spaces!" } }, acme.member.token);
    expect(bad.errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "username" });
  });
});

describe("who sees contact points", () => {
  const OF = `query($id: ID!) { node(id: $id) { ... on User { email emails { email } phones { phoneNumber } } } }`;

  it("members see the primary email; holders of members:read_private see every address and phone; strangers see nothing", async () => {
    const id = globalId("User", zoe.user.id);
    const asMember = await t.gql(OF, { id }, acme.member.token);
    expect(asMember.data.node.emails).toHaveLength(1);
    expect(asMember.data.node.emails[0].email).toBe(asMember.data.node.email);
    expect(asMember.data.node.phones).toEqual([]);
    const asAdmin = await t.gql(OF, { id }, acme.admin.token);
    expect(asAdmin.data.node.emails.length).toBeGreaterThan(1);
    expect(asAdmin.data.node.phones.length).toBeGreaterThan(0);
    const stranger = await userWithToken(t.db, "stranger@else.example");
    expect((await t.gql(OF, { id }, stranger.token)).data.node).toBeNull();
  });

  it("adding someone to your own organization doesn't expose their private contact points", async () => {
    const snoop = await orgWithPeople(t.db, "snoop");
    const added = await t.gql(`mutation($input: AddMemberInput!) { addMember(input: $input) { member { user { id } } } }`, { input: { organizationId: snoop.orgGid, email: "zoe@work.example" } }, snoop.owner.token);
    expect(added.errors).toBeUndefined();
    // Not even the account: until Zoe accepts, the organization sees a stand-in for the address (test/consent.test.ts).
    const seen = await t.gql(OF, { id: globalId("User", zoe.user.id) }, snoop.owner.token);
    expect(seen.data.node).toBeNull();
    const standIn = await t.gql(OF, { id: added.data.addMember.member.user.id }, snoop.owner.token);
    expect(standIn.data.node).toBeNull();
  });
});

describe("invitations and addMember reach verified addresses", () => {
  it("an invitation to a verified secondary address is the user's to accept; an unverified one is not", async () => {
    const INVITE = `mutation($input: CreateInvitationInput!) { createInvitation(input: $input) { token } }`;
    const other = await orgWithPeople(t.db, "beta");
    const verified = await t.gql(INVITE, { input: { organizationId: other.orgGid, email: "zoe@work.example" } }, other.owner.token);
    const mine = await t.gql(`{ viewer { invitations(first: 5) { totalCount } } }`, {}, zoe.token);
    expect(mine.data.viewer.invitations.totalCount).toBe(1);
    const accepted = await t.gql(`mutation($input: AcceptInvitationInput!) { acceptInvitation(input: $input) { member { user { id } } } }`, { input: { token: verified.data.createInvitation.token } }, zoe.token);
    expect(accepted.data.acceptInvitation.member.user.id).toBe(globalId("User", zoe.user.id));

    await t.gql(ADD_EMAIL, { input: { email: "zoe@unproven.example" } }, zoe.token);
    const unproven = await t.gql(INVITE, { input: { organizationId: acme.orgGid, email: "zoe@unproven.example" } }, acme.owner.token);
    const refused = await t.gql(`mutation($input: AcceptInvitationInput!) { acceptInvitation(input: $input) { member { id } } }`, { input: { token: unproven.data.createInvitation.token } }, zoe.token);
    expect(codes(refused)).toEqual(["NOT_FOUND"]);
  });

  it("addMember with a verified secondary address adds that user (pending their answer), not a new one", async () => {
    const gamma = await orgWithPeople(t.db, "gamma");
    const users = await t.db.prisma.user.count();
    const added = await t.gql(`mutation($input: AddMemberInput!) { addMember(input: $input) { member { id user { email } } } }`, { input: { organizationId: gamma.orgGid, email: "zoe@work.example" } }, gamma.owner.token);
    expect(reasons(added)).toEqual([]);
    expect(added.data.addMember.member.user.email).toBe("zoe@work.example");
    expect(await t.db.prisma.user.count()).toBe(users);
    const mine = await t.gql(`{ viewer { memberships(first: 20) { edges { node { id status } } } } }`, {}, zoe.token);
    expect(mine.data.viewer.memberships.edges.map((e: any) => e.node)).toContainEqual({ id: added.data.addMember.member.id, status: "PENDING" });
  });
});

describe("cost", () => {
  it("a page of members with addresses, phones, locations and settings costs the same statements at 5 and 40 members", async () => {
    const measure = async (size: number) => {
      const fx = await orgWithPeople(t.db, `cost${size}`);
      const location = await t.db.prisma.location.create({ data: { organizationId: fx.organization.id, name: "L" } });
      for (let i = 0; i < size; i++) {
        const person = await userWithToken(t.db, `p${i}@cost${size}.example`);
        const member = await addMembership(t.db, fx.organization, person.user, "member");
        await t.db.prisma.memberLocationRole.create({ data: { organizationId: fx.organization.id, memberId: member.id, locationId: location.id, roleId: "00000000-0000-7000-8000-000000000003" } });
        await t.db.prisma.userPhone.create({ data: { userId: person.user.id, phoneNumber: `+1555${size}${String(i).padStart(4, "0")}` } });
      }
      const before = t.db.statementCount();
      const result = await t.gql(
        `query($id: ID!) { organization(id: $id) { members(first: 50) { edges { node { user { emails { email } phones { phoneNumber } } locations { location { name } roles { key } } settings { defaultLocation { name } } } } } } }`,
        { id: fx.orgGid },
        fx.admin.token,
      );
      expect(result.errors).toBeUndefined();
      return t.db.statementCount() - before;
    };
    const small = await measure(5);
    const large = await measure(40);
    expect(large).toBe(small);
  });
});
