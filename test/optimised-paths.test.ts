// The optimised read paths answer exactly as the plain ones: lean rows read through the driver
// (not Prisma's raw query), and member lists authorized once as a whole (not object by object).
// Two apps over one database — createApp's default and `plainPaths: true` — get the benchmark's
// reads (q1–q4, and a location's members) from an owner, an admin, a plain member and an admin
// at one location only, on the demo seed; every answer, errors included, must be the same JSON.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Q0, Q1, Q2, Q3, Q4 } from "../bench/queries.js";
import { loadConfig } from "../src/config.js";
import { createApiToken } from "../src/domain/api-tokens.js";
import { seedDemo } from "../src/domain/seed.js";
import { SYSTEM_ROLES } from "../src/core/permissions.js";
import { createLogger } from "../src/logger.js";
import { createApp, type App } from "../src/server.js";
import { globalId, openTestDatabase, type TestDatabase } from "./helpers.js";

const LOCATION_MEMBERS = `query L($id: ID!) {
  node(id: $id) { ... on Location { name members(first: 50) { totalCount edges { cursor node { id status role { key } user { id email firstName } } } } } }
}`;

let test: TestDatabase;
let optimised: App;
let plain: App;
const tokens: Record<string, string> = {};
let memberId: string;
let outsiderMemberId: string;
let locationId: string;

async function ask(app: App, token: string, query: string, variables: Record<string, unknown> = {}) {
  const response = await app.fetch("http://localhost/graphql", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  return { status: response.status, body: await response.json() };
}

beforeAll(async () => {
  test = await openTestDatabase();
  const { prisma } = test.db;
  await seedDemo(prisma);
  const config = loadConfig({ LOG_LEVEL: "silent", RATE_LIMITS: "false" });
  const logger = createLogger("silent");
  optimised = createApp({ config, db: test.db, logger });
  plain = createApp({ config, db: test.db, logger, plainPaths: true });
  const acme = await prisma.organization.findUniqueOrThrow({ where: { slug: "acme" } });
  const members = await prisma.member.findMany({ where: { organizationId: acme.id, status: "ACTIVE" }, include: { locationRoles: true }, orderBy: { joinedAt: "asc" } });
  const pick = (what: string, test: (m: (typeof members)[number]) => boolean) => {
    const found = members.find(test);
    if (!found) throw new Error(`the demo seed has no ${what} in acme`);
    return found;
  };
  const viewers = {
    owner: pick("owner", (m) => m.roleId === SYSTEM_ROLES.owner.id),
    admin: pick("admin", (m) => m.roleId === SYSTEM_ROLES.admin.id),
    member: pick("plain member", (m) => m.roleId === SYSTEM_ROLES.member.id && m.locationRoles.length === 0),
    locationAdmin: pick("location-only admin", (m) => m.roleId !== SYSTEM_ROLES.owner.id && m.roleId !== SYSTEM_ROLES.admin.id && m.locationRoles.some((l) => l.roleId === SYSTEM_ROLES.admin.id)),
  };
  for (const [name, member] of Object.entries(viewers)) tokens[name] = (await createApiToken(prisma, member.userId, { name: "paths" })).token;
  locationId = viewers.locationAdmin.locationRoles.find((l) => l.roleId === SYSTEM_ROLES.admin.id)!.locationId;
  memberId = members.find((m) => !Object.values(viewers).includes(m))!.id;
  const globex = await prisma.organization.findUniqueOrThrow({ where: { slug: "globex" } });
  outsiderMemberId = (await prisma.member.findFirstOrThrow({ where: { organizationId: globex.id } })).id;
});
afterAll(() => test.close());

const READS: [string, string, () => Record<string, unknown>][] = [
  ["q0", Q0, () => ({})],
  ["q1", Q1, () => ({ slug: "acme" })],
  ["q2", Q2, () => ({})],
  ["q3", Q3, () => ({ slug: "acme", search: "a" })],
  ["q4", Q4, () => ({ id: globalId("Member", memberId) })],
  ["q4 in another organization", Q4, () => ({ id: globalId("Member", outsiderMemberId) })],
  ["a location's members", LOCATION_MEMBERS, () => ({ id: globalId("Location", locationId) })],
];

describe.each(["owner", "admin", "member", "locationAdmin"])("as the %s", (viewer) => {
  it.each(READS)("%s answers the same on both paths", async (_name, query, variables) => {
    const fast = await ask(optimised, tokens[viewer]!, query, variables());
    const slow = await ask(plain, tokens[viewer]!, query, variables());
    expect(fast).toEqual(slow);
    // Not vacuous: the owner's reads succeed and carry data.
    if (viewer === "owner" && _name !== "q4 in another organization") expect(fast.body.errors).toBeUndefined();
  });
});

it("the member lists the owner reads are non-trivial (members with users and roles)", async () => {
  const { body } = await ask(optimised, tokens.owner!, Q2);
  const acme = body.data.organizations.edges.find((edge: { node: { slug: string } }) => edge.node.slug === "acme");
  expect(acme.node.members.totalCount).toBeGreaterThan(30);
  expect(acme.node.members.edges[0].node.user.email).toMatch(/@/);
});
