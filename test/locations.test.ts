// Locations with per-location roles: CRUD, assignments, permissions scoped to a location (an
// admin of one location manages that location only), member settings, and isolation.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { codes, createTestApp, globalId, orgWithPeople, reasons, roleGid, userWithToken, addMembership, type OrgFixture, type TestApp } from "./helpers.js";

let t: TestApp;
let acme: OrgFixture;
let other: OrgFixture;

const CREATE = `mutation($input: CreateLocationInput!) { createLocation(input: $input) { location { id name timezone address version } } }`;
const SET = `mutation($input: SetMemberLocationsInput!) { setMemberLocations(input: $input) {
  member { version locations { location { name } roles { key } } settings { defaultLocation { name } } } } }`;
const UPDATE_LOCATION = `mutation($input: UpdateLocationInput!) { updateLocation(input: $input) { location { name version } } }`;
const UPDATE_MEMBER = `mutation($input: UpdateMemberInput!) { updateMember(input: $input) { member { isActive settings { profilePictureUrl defaultLocation { name } } } } }`;

async function createLocation(fx: OrgFixture, name: string): Promise<string> {
  const result = await t.gql(CREATE, { input: { organizationId: fx.orgGid, name } }, fx.owner.token);
  expect(result.errors).toBeUndefined();
  return result.data.createLocation.location.id;
}

let north: string;
let south: string;
let elsewhere: string;
/** A plain member who is admin at North only. */
let manager: Awaited<ReturnType<typeof userWithToken>> & { memberGid: string };
/** A plain member everyone acts on. */
let staff: Awaited<ReturnType<typeof userWithToken>> & { memberGid: string };

beforeAll(async () => {
  t = await createTestApp();
  acme = await orgWithPeople(t.db, "acme");
  other = await orgWithPeople(t.db, "other");
  north = await createLocation(acme, "North");
  south = await createLocation(acme, "South");
  elsewhere = await createLocation(other, "Elsewhere");
  const person = async (email: string) => {
    const user = await userWithToken(t.db, email);
    const member = await addMembership(t.db, acme.organization, user.user, "member");
    return { ...user, memberGid: globalId("Member", member.id) };
  };
  manager = await person("manager@acme.example");
  staff = await person("staff@acme.example");
  const assigned = await t.gql(SET, { input: { memberId: manager.memberGid, locations: [{ locationId: north, roleIds: [roleGid("admin")] }] } }, acme.owner.token);
  expect(assigned.errors).toBeUndefined();
});
afterAll(() => t.close());

describe("locations", () => {
  it("are created, edited and listed by holders of locations:*; names are unique per organization", async () => {
    const created = await t.gql(CREATE, { input: { organizationId: acme.orgGid, name: "  East ", timezone: "Europe/Berlin", address: "1 Main St" } }, acme.admin.token);
    expect(created.data.createLocation.location).toMatchObject({ name: "East", timezone: "Europe/Berlin", address: "1 Main St", version: 1 });
    const duplicate = await t.gql(CREATE, { input: { organizationId: acme.orgGid, name: "East" } }, acme.admin.token);
    expect(duplicate.errors?.[0]?.extensions).toMatchObject({ code: "CONFLICT", field: "name" });
    const asMember = await t.gql(CREATE, { input: { organizationId: acme.orgGid, name: "West" } }, acme.member.token);
    expect(asMember.errors?.[0]?.extensions).toMatchObject({ code: "FORBIDDEN", reason: "MISSING_PERMISSION" });
    const badZone = await t.gql(CREATE, { input: { organizationId: acme.orgGid, name: "Z", timezone: "Mars/Olympus" } }, acme.admin.token);
    expect(badZone.errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "timezone" });

    const list = await t.gql(`query($id: ID!) { organization(id: $id) { locations(first: 10) { totalCount edges { node { name } } } } }`, { id: acme.orgGid }, acme.member.token);
    expect(list.data.organization.locations.totalCount).toBe(3);
    expect(list.data.organization.locations.edges.map((e: any) => e.node.name)).toEqual(["East", "North", "South"]);

    const renamed = await t.gql(UPDATE_LOCATION, { input: { locationId: created.data.createLocation.location.id, name: "Eastside", expectedVersion: 1 } }, acme.admin.token);
    expect(renamed.data.updateLocation.location).toEqual({ name: "Eastside", version: 2 });
    const stale = await t.gql(UPDATE_LOCATION, { input: { locationId: created.data.createLocation.location.id, name: "Lost", expectedVersion: 1 } }, acme.admin.token);
    expect(codes(stale)).toEqual(["STALE_VERSION"]);
  });

  it("assigns members with several roles per location and lists a location's members", async () => {
    const billing = await t.gql(
      `mutation($input: CreateRoleInput!) { createRole(input: $input) { role { id } } }`,
      { input: { organizationId: acme.orgGid, name: "Cashier", permissions: ["org:read"] } },
      acme.owner.token,
    );
    const cashier = billing.data.createRole.role.id;
    const result = await t.gql(
      SET,
      { input: { memberId: staff.memberGid, locations: [{ locationId: north, roleIds: [roleGid("member"), cashier] }, { locationId: south, roleIds: [cashier] }] } },
      acme.owner.token,
    );
    expect(result.errors).toBeUndefined();
    const locations = result.data.setMemberLocations.member.locations.map((l: any) => ({ name: l.location.name, roles: l.roles.map((r: any) => r.key).sort() }));
    expect(locations.sort((a: any, b: any) => a.name.localeCompare(b.name))).toEqual([
      { name: "North", roles: ["cashier", "member"] },
      { name: "South", roles: ["cashier"] },
    ]);
    const members = await t.gql(
      `query($id: ID!) { node(id: $id) { ... on Location { members(first: 10, orderBy: { field: EMAIL }) { totalCount edges { node { user { email } } } } } } }`,
      { id: north },
      acme.member.token,
    );
    expect(members.data.node.members.totalCount).toBe(2);
    expect(members.data.node.members.edges.map((e: any) => e.node.user.email)).toEqual(["manager@acme.example", "staff@acme.example"]);
    const filtered = await t.gql(
      `query($id: ID!, $loc: [ID!]) { organization(id: $id) { members(first: 10, filter: { locationIds: $loc }) { totalCount } } }`,
      { id: acme.orgGid, loc: [south] },
      acme.member.token,
    );
    expect(filtered.data.organization.members.totalCount).toBe(1);
  });

  it("validates assignments: the owner role is organization-wide; every location needs a role", async () => {
    const owner = await t.gql(SET, { input: { memberId: staff.memberGid, locations: [{ locationId: north, roleIds: [roleGid("owner")] }] } }, acme.owner.token);
    expect(owner.errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "locations.0.roleIds" });
    const empty = await t.gql(SET, { input: { memberId: staff.memberGid, locations: [{ locationId: north, roleIds: [] }] } }, acme.owner.token);
    expect(empty.errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "locations.0.roleIds" });
    const twice = await t.gql(SET, { input: { memberId: staff.memberGid, locations: [{ locationId: north, roleIds: [roleGid("member")] }, { locationId: north, roleIds: [roleGid("member")] }] } }, acme.owner.token);
    expect(twice.errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "locations.1.locationId" });
  });
});

describe("permissions scoped to a location", () => {
  it("an admin of North manages assignments at North, and nothing at South or organization-wide", async () => {
    // At North the manager holds admin's permissions; elsewhere only the member role's.
    const perms = await t.gql(
      `query($id: ID!, $north: ID!) { organization(id: $id) { here: viewerPermissions(locationId: $north) everywhere: viewerPermissions } }`,
      { id: acme.orgGid, north },
      manager.token,
    );
    expect(perms.data.organization.here).toContain("members:update");
    expect(perms.data.organization.everywhere).not.toContain("members:update");

    const check = await t.gql(
      `query($org: ID!, $north: ID!, $south: ID!) {
        north: checkPermissions(organizationId: $org, permissions: ["members:update"], locationId: $north) { allowed reason }
        south: checkPermissions(organizationId: $org, permissions: ["members:update"], locationId: $south) { allowed reason }
      }`,
      { org: acme.orgGid, north, south },
      manager.token,
    );
    expect(check.data.north[0]).toEqual({ allowed: true, reason: null });
    expect(check.data.south[0]).toEqual({ allowed: false, reason: "MISSING_PERMISSION" });

    const flags = await t.gql(
      `query($m: ID!, $north: ID!, $south: ID!) { node(id: $m) { ... on Member {
        north: viewerCan(locationId: $north) { setLocations } south: viewerCan(locationId: $south) { setLocations } anywhere: viewerCan { updateRole } } } }`,
      { m: staff.memberGid, north, south },
      manager.token,
    );
    expect(flags.data.node).toEqual({ north: { setLocations: true }, south: { setLocations: false }, anywhere: { updateRole: false } });

    // What the flags promise is what happens.
    const atNorth = await t.gql(SET, { input: { memberId: staff.memberGid, locations: [{ locationId: north, roleIds: [roleGid("member")] }] } }, manager.token);
    // South would be dropped too: that's a change at South, which the manager may not make.
    expect(atNorth.errors?.[0]?.extensions).toMatchObject({ code: "FORBIDDEN", reason: "MISSING_PERMISSION" });
    const staffNow = await t.gql(`query($m: ID!) { node(id: $m) { ... on Member { locations { location { id } roles { id } } } } }`, { m: staff.memberGid }, acme.owner.token);
    const keepSouth = staffNow.data.node.locations
      .filter((l: any) => l.location.id === south)
      .map((l: any) => ({ locationId: l.location.id, roleIds: l.roles.map((r: any) => r.id) }));
    const onlyNorth = await t.gql(SET, { input: { memberId: staff.memberGid, locations: [{ locationId: north, roleIds: [roleGid("member")] }, ...keepSouth] } }, manager.token);
    expect(onlyNorth.errors).toBeUndefined();
    const orgWide = await t.gql(`mutation($input: UpdateMemberRoleInput!) { updateMemberRole(input: $input) { member { id } } }`, { input: { memberId: staff.memberGid, roleId: roleGid("admin") } }, manager.token);
    expect(reasons(orgWide)).toEqual(["MISSING_PERMISSION"]);
    const southEdit = await t.gql(UPDATE_LOCATION, { input: { locationId: south, name: "Mine now" } }, manager.token);
    expect(reasons(southEdit)).toEqual(["MISSING_PERMISSION"]);
    const northEdit = await t.gql(UPDATE_LOCATION, { input: { locationId: north, name: "North" } }, manager.token);
    expect(northEdit.errors).toBeUndefined();
    // Deleting a location ends everyone's assignments there: organization-wide permission only.
    const northDelete = await t.gql(`mutation($input: DeleteLocationInput!) { deleteLocation(input: $input) { deletedLocationId } }`, { input: { locationId: north } }, manager.token);
    expect(reasons(northDelete)).toEqual(["MISSING_PERMISSION"]);
    // A role at North doesn't make organization-wide actions look allowed.
    const inflated = await t.gql(`query($m: ID!, $north: ID!) { node(id: $m) { ... on Member { viewerCan(locationId: $north) { remove suspend setLocations } } } }`, { m: staff.memberGid, north }, manager.token);
    expect(inflated.data.node.viewerCan).toEqual({ remove: false, suspend: false, setLocations: true });
  });

  it("no escalation, counted at the location: no roles beyond one's own there, no owners", async () => {
    const deleter = await t.gql(
      `mutation($input: CreateRoleInput!) { createRole(input: $input) { role { id } } }`,
      { input: { organizationId: acme.orgGid, name: "Deleter", permissions: ["org:delete"] } },
      acme.owner.token,
    );
    const escalate = await t.gql(SET, { input: { memberId: staff.memberGid, locations: [{ locationId: north, roleIds: [deleter.data.createRole.role.id] }, { locationId: south, roleIds: [await cashierId()] }] } }, manager.token);
    expect(escalate.errors?.[0]?.extensions).toMatchObject({ code: "FORBIDDEN", reason: "ESCALATION" });
    const ownerTouch = await t.gql(SET, { input: { memberId: acme.owner.memberGid, locations: [{ locationId: north, roleIds: [roleGid("member")] }] } }, manager.token);
    expect(ownerTouch.errors?.[0]?.extensions).toMatchObject({ code: "FORBIDDEN", reason: "OWNER_ONLY" });
    const selfPromotion = await t.gql(SET, { input: { memberId: manager.memberGid, locations: [{ locationId: north, roleIds: [roleGid("admin")] }, { locationId: south, roleIds: [roleGid("admin")] }] } }, manager.token);
    expect(selfPromotion.errors?.[0]?.extensions).toMatchObject({ code: "FORBIDDEN", reason: "MISSING_PERMISSION" });
  });

  it("a location of another organization is NOT_FOUND everywhere", async () => {
    const assign = await t.gql(SET, { input: { memberId: staff.memberGid, locations: [{ locationId: elsewhere, roleIds: [roleGid("member")] }] } }, acme.owner.token);
    expect(assign.errors?.[0]?.extensions).toMatchObject({ code: "NOT_FOUND", field: "locations.0.locationId" });
    expect((await t.gql(`query($id: ID!) { node(id: $id) { id } }`, { id: elsewhere }, acme.owner.token)).data.node).toBeNull();
    expect(codes(await t.gql(UPDATE_LOCATION, { input: { locationId: elsewhere, name: "Hijacked" } }, acme.owner.token))).toEqual(["NOT_FOUND"]);
    const viewerCan = await t.gql(`query($id: ID!, $loc: ID!) { node(id: $id) { ... on Member { viewerCan(locationId: $loc) { setLocations } } } }`, { id: staff.memberGid, loc: elsewhere }, acme.owner.token);
    expect(viewerCan.errors?.[0]?.extensions).toMatchObject({ code: "NOT_FOUND", field: "locationId" });
    const otherRole = await t.gql(SET, { input: { memberId: staff.memberGid, locations: [{ locationId: north, roleIds: [await customRoleOf(other)] }] } }, acme.owner.token);
    expect(otherRole.errors?.[0]?.extensions).toMatchObject({ code: "NOT_FOUND" });
  });

  it("losing a role at a location applies on the next request", async () => {
    const temp = await userWithToken(t.db, "temp@acme.example");
    const member = await addMembership(t.db, acme.organization, temp.user, "member");
    const gid = globalId("Member", member.id);
    await t.gql(SET, { input: { memberId: gid, locations: [{ locationId: south, roleIds: [roleGid("admin")] }] } }, acme.owner.token);
    expect((await t.gql(UPDATE_LOCATION, { input: { locationId: south, name: "South" } }, temp.token)).errors).toBeUndefined();
    await t.gql(SET, { input: { memberId: gid, locations: [] } }, acme.owner.token);
    expect(reasons(await t.gql(UPDATE_LOCATION, { input: { locationId: south, name: "South" } }, temp.token))).toEqual(["MISSING_PERMISSION"]);
  });

  it("a role held at locations can only be deleted with reassignToRoleId", async () => {
    const role = await t.gql(`mutation($input: CreateRoleInput!) { createRole(input: $input) { role { id } } }`, { input: { organizationId: acme.orgGid, name: "Temp role", permissions: ["org:read"] } }, acme.owner.token);
    const roleId = role.data.createRole.role.id;
    const temp = await userWithToken(t.db, "temp2@acme.example");
    const member = await addMembership(t.db, acme.organization, temp.user, "member");
    await t.gql(SET, { input: { memberId: globalId("Member", member.id), locations: [{ locationId: north, roleIds: [roleId, roleGid("member")] }] } }, acme.owner.token);
    const refused = await t.gql(`mutation($input: DeleteRoleInput!) { deleteRole(input: $input) { deletedRoleId } }`, { input: { roleId } }, acme.owner.token);
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: "CONFLICT", locationAssignmentCount: 1 });
    const done = await t.gql(`mutation($input: DeleteRoleInput!) { deleteRole(input: $input) { deletedRoleId } }`, { input: { roleId, reassignToRoleId: roleGid("member") } }, acme.owner.token);
    expect(done.errors).toBeUndefined();
    expect(await t.db.prisma.memberLocationRole.count({ where: { memberId: member.id } })).toBe(1);
  });
});

describe("member settings", () => {
  it("the member sets their own picture and default location; others need members:update", async () => {
    const own = await t.gql(UPDATE_MEMBER, { input: { memberId: manager.memberGid, settings: { profilePictureUrl: "https://cdn.example/m.png", defaultLocationId: north } } }, manager.token);
    expect(own.errors).toBeUndefined();
    expect(own.data.updateMember.member).toEqual({ isActive: true, settings: { profilePictureUrl: "https://cdn.example/m.png", defaultLocation: { name: "North" } } });
    const notTheirs = await t.gql(UPDATE_MEMBER, { input: { memberId: manager.memberGid, settings: { defaultLocationId: south } } }, manager.token);
    expect(notTheirs.errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "settings.defaultLocationId" });
    const http = await t.gql(UPDATE_MEMBER, { input: { memberId: manager.memberGid, settings: { profilePictureUrl: "http://cdn.example/m.png" } } }, manager.token);
    expect(http.errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "settings.profilePictureUrl" });
    const script = await t.gql(UPDATE_MEMBER, { input: { memberId: manager.memberGid, settings: { profilePictureUrl: "javascript:alert(1)" } } }, manager.token);
    expect(codes(script)).toEqual(["BAD_USER_INPUT"]);
    const someoneElse = await t.gql(UPDATE_MEMBER, { input: { memberId: manager.memberGid, settings: { profilePictureUrl: "https://evil.example/x.png" } } }, staff.token);
    expect(reasons(someoneElse)).toEqual(["MISSING_PERMISSION"]);
    const metadata = await t.gql(UPDATE_MEMBER, { input: { memberId: manager.memberGid, publicMetadata: { a: 1 } } }, manager.token);
    expect(reasons(metadata)).toEqual(["MISSING_PERMISSION"]);
    const listed = await t.gql(`query($id: ID!) { organization(id: $id) { members(first: 50) { edges { node { id isActive settings { profilePictureUrl defaultLocation { name } } } } } } }`, { id: acme.orgGid }, acme.admin.token);
    expect(listed.data.organization.members.edges.find((e: any) => e.node.id === manager.memberGid).node).toMatchObject({
      isActive: true,
      settings: { profilePictureUrl: "https://cdn.example/m.png", defaultLocation: { name: "North" } },
    });
    const byAdmin = await t.gql(UPDATE_MEMBER, { input: { memberId: manager.memberGid, settings: { profilePictureUrl: null } } }, acme.admin.token);
    expect(byAdmin.data.updateMember.member.settings.profilePictureUrl).toBeNull();
    // Changing someone else's profile needs to outrank them: an admin can't touch the owner's.
    const owners = await t.gql(UPDATE_MEMBER, { input: { memberId: acme.owner.memberGid, settings: { profilePictureUrl: "https://evil.example/pixel.png" } } }, acme.admin.token);
    expect(reasons(owners)).toEqual(["OWNER_ONLY"]);
  });

  it("unassigning the default location clears it", async () => {
    await t.gql(SET, { input: { memberId: manager.memberGid, locations: [{ locationId: south, roleIds: [roleGid("member")] }] } }, acme.owner.token);
    const after = await t.gql(`query($m: ID!) { node(id: $m) { ... on Member { settings { defaultLocation { name } } } } }`, { m: manager.memberGid }, manager.token);
    expect(after.data.node.settings.defaultLocation).toBeNull();
  });
});

async function cashierId(): Promise<string> {
  const role = await t.db.prisma.role.findFirstOrThrow({ where: { organizationId: acme.organization.id, key: "cashier" } });
  return globalId("Role", role.id);
}

async function customRoleOf(fx: OrgFixture): Promise<string> {
  const role = await t.db.prisma.role.create({ data: { organizationId: fx.organization.id, key: `r${Date.now()}`, name: "R", permissions: ["org:read"] } });
  return globalId("Role", role.id);
}
