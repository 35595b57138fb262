// One whole story, end to end through GraphQL: an owner creates an organization, invites two
// people (one accepts, one declines), creates and assigns a custom role, an admin tries to make
// themselves owner and is refused, the owner transfers ownership, and the audit trail shows
// all of it, in order.
import { afterAll, beforeAll, expect, it } from "vitest";
import { codes, createTestApp, roleGid, userWithToken, type TestApp } from "./helpers.js";

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

it("plays the membership story and the audit trail tells it", async () => {
  const olivia = await userWithToken(t.db, "olivia@story.example");
  const adam = await userWithToken(t.db, "adam@story.example");
  const dora = await userWithToken(t.db, "dora@story.example");

  const created = await t.gql(`mutation { createOrganization(input: { name: "Story Co" }) { organization { id slug } } }`, {}, olivia.token);
  const orgId = created.data.createOrganization.organization.id;
  expect(created.data.createOrganization.organization.slug).toBe("story-co");

  const invite = async (email: string, role: "admin" | "member") => {
    const result = await t.gql(
      `mutation($input: CreateInvitationInput!) { createInvitation(input: $input) { token invitation { id } } }`,
      { input: { organizationId: orgId, email, roleId: roleGid(role) } },
      olivia.token,
    );
    expect(result.errors).toBeUndefined();
    return result.data.createInvitation.token as string;
  };
  const adamToken = await invite("adam@story.example", "admin");
  const doraToken = await invite("dora@story.example", "member");

  const accepted = await t.gql(`mutation($t: String!) { acceptInvitation(input: { token: $t }) { member { id role { key } } } }`, { t: adamToken }, adam.token);
  expect(accepted.data.acceptInvitation.member.role.key).toBe("admin");
  const adamMemberId = accepted.data.acceptInvitation.member.id;
  const declined = await t.gql(`mutation($t: String!) { declineInvitation(input: { token: $t }) { invitation { status } } }`, { t: doraToken }, dora.token);
  expect(declined.data.declineInvitation.invitation.status).toBe("DECLINED");

  const role = await t.gql(
    `mutation($input: CreateRoleInput!) { createRole(input: $input) { role { id key } } }`,
    { input: { organizationId: orgId, name: "Support lead", permissions: ["org:read", "members:read", "members:update", "audit:read"] } },
    olivia.token,
  );
  expect(role.data.createRole.role.key).toBe("support_lead");
  const assigned = await t.gql(
    `mutation($input: UpdateMemberRoleInput!) { updateMemberRole(input: $input) { member { role { key } } } }`,
    { input: { memberId: adamMemberId, roleId: role.data.createRole.role.id } },
    olivia.token,
  );
  expect(assigned.data.updateMemberRole.member.role.key).toBe("support_lead");
  // Back to admin for the next step.
  await t.gql(`mutation($input: UpdateMemberRoleInput!) { updateMemberRole(input: $input) { member { id } } }`, { input: { memberId: adamMemberId, roleId: roleGid("admin") } }, olivia.token);

  const grab = await t.gql(
    `mutation($input: UpdateMemberRoleInput!) { updateMemberRole(input: $input) { member { role { key } } } }`,
    { input: { memberId: adamMemberId, roleId: roleGid("owner") } },
    adam.token,
  );
  expect(codes(grab)).toEqual(["FORBIDDEN"]);
  const grabTransfer = await t.gql(
    `mutation($input: TransferOwnershipInput!) { transferOwnership(input: $input) { newOwner { id } } }`,
    { input: { organizationId: orgId, toMemberId: adamMemberId } },
    adam.token,
  );
  expect(codes(grabTransfer)).toEqual(["FORBIDDEN"]);

  const transferred = await t.gql(
    `mutation($input: TransferOwnershipInput!) { transferOwnership(input: $input) { organization { owner { email } } previousOwner { role { key } } } }`,
    { input: { organizationId: orgId, toMemberId: adamMemberId } },
    olivia.token,
  );
  expect(transferred.data.transferOwnership).toEqual({ organization: { owner: { email: "adam@story.example" } }, previousOwner: { role: { key: "admin" } } });

  const trail = await t.gql(
    `query($id: ID!) { organization(id: $id) { auditEvents(first: 50, orderBy: { direction: ASC }) { totalCount edges { node { action actorEmail } } } } }`,
    { id: orgId },
    adam.token,
  );
  expect(trail.errors).toBeUndefined();
  expect(trail.data.organization.auditEvents.edges.map((edge: any) => `${edge.node.action} by ${edge.node.actorEmail}`)).toEqual([
    "organization.created by olivia@story.example",
    "invitation.created by olivia@story.example",
    "invitation.created by olivia@story.example",
    "invitation.accepted by adam@story.example",
    "invitation.declined by dora@story.example",
    "role.created by olivia@story.example",
    "member.role_changed by olivia@story.example",
    "member.role_changed by olivia@story.example",
    "organization.ownership_transferred by olivia@story.example",
  ]);
});
