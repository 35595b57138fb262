// The N+1 guard: the number of SQL statements for a nested query must follow the query's
// shape, not the amount of data. Same query, 10× more organizations and members: same count.
import { afterAll, beforeAll, expect, it } from "vitest";
import { Q1, Q2, Q3, Q4, STATEMENT_BUDGET } from "../bench/queries.js";
import { SYSTEM_ROLES } from "../src/auth/permissions.js";
import { createTestApp, databaseKind, organizationOf, userWithToken, type TestApp, type TestUser } from "./helpers.js";

const NESTED = `{
  viewer { email memberships(first: 100) { totalCount edges { node { role { key memberCount } organization { slug } } } } }
  organizations(first: 100) {
    totalCount
    edges { node {
      name memberCount viewerPermissions owner { email }
      viewerMembership { role { key } }
      roles(first: 10) { totalCount edges { node { key memberCount } } }
      members(first: 100) {
        totalCount
        edges { node { status invitedBy { email } user { email name } role { key name memberCount } } }
      }
    } }
  }
}`;

let t: TestApp;
let viewer: TestUser;

async function grow(organizations: number, membersEach: number, offset: number) {
  for (let o = 0; o < organizations; o++) {
    const org = await organizationOf(t.db, viewer.user, `Org ${offset + o}`, `org-${offset + o}`);
    const role = await t.db.prisma.role.create({
      data: { organizationId: org.id, key: "custom", name: "Custom", permissions: ["org:read", "members:read"] },
    });
    const users = await t.db.prisma.user.createManyAndReturn({
      data: Array.from({ length: membersEach }, (_, m) => ({ email: `u${m}.o${offset + o}@example.com`, firstName: `U${m}` })),
    });
    await t.db.prisma.member.createMany({
      data: users.map((user, m) => ({
        organizationId: org.id,
        userId: user.id,
        roleId: m % 3 === 0 ? role.id : m % 3 === 1 ? SYSTEM_ROLES.member.id : SYSTEM_ROLES.admin.id,
        invitedById: viewer.user.id,
      })),
    });
  }
}

async function statementsFor(query: string, variables: Record<string, unknown> = {}): Promise<{ min: number; max: number }> {
  const counts: number[] = [];
  for (let run = 0; run < 3; run++) {
    const before = t.db.statementCount();
    const result = await t.gql(query, variables, viewer.token);
    expect(result.errors).toBeUndefined();
    counts.push(t.db.statementCount() - before);
  }
  return { min: Math.min(...counts), max: Math.max(...counts) };
}

beforeAll(async () => {
  t = await createTestApp();
  viewer = await userWithToken(t.db, "viewer@example.com");
});
afterAll(() => t.close());

it("counts every statement Prisma sends", async () => {
  const before = t.db.statementCount();
  await t.db.prisma.user.count();
  expect(t.db.statementCount() - before).toBe(1);
});

it("keeps the statement count flat when the data grows 10×", async () => {
  await grow(2, 5, 0);
  await statementsFor(NESTED); // warm up: the token's lastUsedAt write happens once a minute
  const small = await statementsFor(NESTED);

  await grow(18, 45, 2); // 20 organizations, up to 50 members each
  const large = await statementsFor(NESTED);
  const check = await t.gql("{ organizations(first: 100) { totalCount edges { node { members(first: 100) { totalCount } } } } }", {}, viewer.token);
  expect(check.data.organizations.totalCount).toBe(20);
  expect(check.data.organizations.edges.at(-1).node.members.totalCount).toBe(46);

  console.log(
    `nested query on ${databaseKind}: ${small.min}-${small.max} SQL statements with 2 organizations × 6 members, ` +
      `${large.min}-${large.max} with 20 × 46`,
  );
  if (databaseKind === "embedded") {
    // One connection, no I/O jitter: batches form the same way every time.
    expect(large).toEqual(small);
  } else {
    // Over a pool, two GraphQL paths that reach the same loader may or may not land in one
    // batch, depending on I/O timing; that varies by a statement or so, per path, not per row.
    // An N+1 would add one statement per organization (18 more here).
    expect(large.min).toBeLessThanOrEqual(small.max);
  }
  expect(small.max).toBeLessThanOrEqual(20);
});

it("keeps the benchmark's reads (q1-q4) within their statement budgets at both sizes", async () => {
  const org = await t.db.prisma.organization.findUniqueOrThrow({ where: { slug: "org-0" } });
  const big = await t.db.prisma.organization.findUniqueOrThrow({ where: { slug: "org-19" } });
  const member = await t.db.prisma.member.findFirstOrThrow({ where: { organizationId: org.id, NOT: { userId: viewer.user.id } } });
  const memberId = Buffer.from(`Member:${member.id}`).toString("base64");
  const counts = {
    q1: await statementsFor(Q1, { slug: "org-0" }),
    q1big: await statementsFor(Q1, { slug: big.slug }),
    q2: await statementsFor(Q2),
    q3: await statementsFor(Q3, { slug: "org-0", search: "u1" }),
    q3big: await statementsFor(Q3, { slug: big.slug, search: "u1" }),
    q4: await statementsFor(Q4, { id: memberId }),
  };
  console.log(`statements per request: ${Object.entries(counts).map(([name, c]) => `${name} ${c.max}`).join(", ")}`);
  expect(counts.q1.max).toBeLessThanOrEqual(STATEMENT_BUDGET.q1);
  expect(counts.q1big.max).toBe(counts.q1.max);
  expect(counts.q2.max).toBeLessThanOrEqual(STATEMENT_BUDGET.q2);
  expect(counts.q3.max).toBeLessThanOrEqual(STATEMENT_BUDGET.q3);
  expect(counts.q3big.max).toBe(counts.q3.max);
  expect(counts.q4.max).toBeLessThanOrEqual(STATEMENT_BUDGET.q4);
});
