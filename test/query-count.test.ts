// The N+1 guard: the number of SQL statements for a nested query must follow the query's
// shape, not the amount of data. Same query, 10× more organizations and members: same count.
import { prismaConnectionHelpers } from "@pothos/plugin-prisma";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Q0, Q1, Q2, Q3, Q4, STATEMENT_BUDGET } from "../bench/queries.js";
import { builder } from "../src/graphql/builder.js";
import { SYSTEM_ROLES } from "../src/core/permissions.js";
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

async function statementsFor(query: string, variables: Record<string, unknown> = {}, token = viewer.token): Promise<{ min: number; max: number }> {
  const counts: number[] = [];
  for (let run = 0; run < 3; run++) {
    const before = t.db.statementCount();
    const result = await t.gql(query, variables, token);
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

it("keeps the benchmark's reads (q0-q4) within their statement budgets at both sizes", async () => {
  const org = await t.db.prisma.organization.findUniqueOrThrow({ where: { slug: "org-0" } });
  const big = await t.db.prisma.organization.findUniqueOrThrow({ where: { slug: "org-19" } });
  const member = await t.db.prisma.member.findFirstOrThrow({ where: { organizationId: org.id, NOT: { userId: viewer.user.id } } });
  const memberId = Buffer.from(`Member:${member.id}`).toString("base64");
  const counts = {
    q0: await statementsFor(Q0),
    q1: await statementsFor(Q1, { slug: "org-0" }),
    q1big: await statementsFor(Q1, { slug: big.slug }),
    q2: await statementsFor(Q2),
    q3: await statementsFor(Q3, { slug: "org-0", search: "u1" }),
    q3big: await statementsFor(Q3, { slug: big.slug, search: "u1" }),
    q4: await statementsFor(Q4, { id: memberId }),
  };
  console.log(`statements per request: ${Object.entries(counts).map(([name, c]) => `${name} ${c.max}`).join(", ")}`);
  expect(counts.q0.max).toBeLessThanOrEqual(STATEMENT_BUDGET.q0);
  expect(counts.q1.max).toBeLessThanOrEqual(STATEMENT_BUDGET.q1);
  expect(counts.q1big.max).toBe(counts.q1.max);
  expect(counts.q2.max).toBeLessThanOrEqual(STATEMENT_BUDGET.q2);
  expect(counts.q3.max).toBeLessThanOrEqual(STATEMENT_BUDGET.q3);
  expect(counts.q3big.max).toBe(counts.q3.max);
  expect(counts.q4.max).toBeLessThanOrEqual(STATEMENT_BUDGET.q4);
});

describe("Organization.auditEvents on a page of organizations", () => {
  let auditor: TestUser;
  const databaseId = (globalId: string) => Buffer.from(globalId, "base64").toString().split(":")[1]!;
  const ACTIONS = ["member.added", "member.updated", "member.removed"];

  /** Organizations of the auditor, each with its creation event and seven more, two of them at the same instant. */
  async function organizationsWithEvents(count: number, offset: number) {
    for (let o = offset; o < offset + count; o++) {
      const org = await organizationOf(t.db, auditor.user, `Audit ${o}`, `audit-${o}`);
      const base = Date.now() + 1000;
      await t.db.prisma.auditEvent.createMany({
        data: Array.from({ length: 7 }, (_, e) => ({
          organizationId: org.id,
          actorUserId: auditor.user.id,
          action: ACTIONS[(e + o) % ACTIONS.length]!,
          targetType: "Member",
          targetId: org.id,
          before: { email: `before-${e}@audit.example`, n: e },
          after: e % 2 === 0 ? { privateMetadata: { salary: e }, n: e } : undefined,
          requestId: `req-${o}-${e}`,
          // Events 3 and 4 share an instant: the id breaks the tie.
          createdAt: new Date(base + (e === 4 ? 3 : e) * 1000),
        })),
      });
    }
  }

  const PAGE = `query($first: Int, $last: Int, $after: String, $before: String, $action: String, $orderBy: AuditEventOrder) {
    organizations(first: 100, orderBy: { field: CREATED_AT }) { edges { node { id auditEvents(first: $first, last: $last, after: $after, before: $before, action: $action, orderBy: $orderBy) {
      totalCount
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { cursor node { id action targetType targetId actor { email } actorEmail viaApiTokenId before after requestId createdAt } }
    } } } }
  }`;

  beforeAll(async () => {
    auditor = await userWithToken(t.db, "auditor@example.com");
  });

  it("costs the same statements for 2 and 20 organizations", async () => {
    await organizationsWithEvents(2, 0);
    await statementsFor(PAGE, { first: 5 }, auditor.token); // warm up (the token's lastUsedAt)
    const small = await statementsFor(PAGE, { first: 5 }, auditor.token);
    const smallFiltered = await statementsFor(PAGE, { first: 2, action: "member.added", orderBy: { direction: "ASC" } }, auditor.token);
    await organizationsWithEvents(18, 2);
    const large = await statementsFor(PAGE, { first: 5 }, auditor.token);
    const largeFiltered = await statementsFor(PAGE, { first: 2, action: "member.added", orderBy: { direction: "ASC" } }, auditor.token);
    const check = await t.gql(PAGE, { first: 5 }, auditor.token);
    expect(check.data.organizations.edges).toHaveLength(20);
    expect(check.data.organizations.edges.every((edge: any) => edge.node.auditEvents.totalCount === 8 && edge.node.auditEvents.edges.length === 5)).toBe(true);
    console.log(`auditEvents on a page of organizations (${databaseKind}): ${small.max} SQL statements for 2, ${large.max} for 20`);
    if (databaseKind === "embedded") {
      expect(large).toEqual(small);
      expect(largeFiltered).toEqual(smallFiltered);
    } else {
      // Over a pool a loader batch may split by a statement or so (see above); an N+1 would add 18.
      expect(large.min).toBeLessThanOrEqual(small.max);
      expect(largeFiltered.min).toBeLessThanOrEqual(smallFiltered.max);
    }
    expect(large.max).toBeLessThanOrEqual(8);
  });

  it("answers exactly as the per-organization path did: edges, cursors, pageInfo, totalCount", async () => {
    // The former resolver, one statement per organization: plugin-prisma's own cursor connection over findMany.
    const helpers = prismaConnectionHelpers(builder, "AuditEvent", { cursor: "id", defaultSize: t.config.defaultPageSize, maxSize: t.config.maxPageSize });
    type Args = { first?: number; last?: number; after?: string; before?: string; action?: string; orderBy?: { direction: "ASC" | "DESC" } };
    async function perOrganization(organizationId: string, args: Args) {
      const connectionArgs = { first: args.first ?? null, last: args.last ?? null, after: args.after ?? null, before: args.before ?? null };
      const { select: _cursorSelection, ...query } = helpers.getQuery(connectionArgs, {} as never, () => true) as Record<string, unknown>;
      const where = { organizationId, ...(args.action ? { action: args.action } : {}) };
      const direction = args.orderBy?.direction === "ASC" ? "asc" : "desc";
      const rows = await t.db.prisma.auditEvent.findMany({ ...query, where, orderBy: [{ createdAt: direction }, { id: direction }] });
      const connection = helpers.resolve(rows, connectionArgs, {} as never) as unknown as {
        edges: { cursor: string; node: (typeof rows)[number] }[];
        pageInfo: Record<string, unknown>;
      };
      return {
        totalCount: await t.db.prisma.auditEvent.count({ where }),
        pageInfo: connection.pageInfo,
        edges: connection.edges.map(({ cursor, node }) => ({
          cursor,
          node: { id: node.id, action: node.action, targetType: node.targetType, before: node.before, after: node.after, requestId: node.requestId, createdAt: node.createdAt.toISOString() },
        })),
      };
    }
    const batched = async (args: Args) => {
      const result = await t.gql(PAGE, args, auditor.token);
      expect(result.errors, JSON.stringify(args)).toBeUndefined();
      return result.data.organizations.edges.map((edge: any) => edge.node);
    };
    const compare = async (args: Args) => {
      const organizations = await batched(args);
      expect(organizations.length).toBe(20);
      for (const organization of organizations) {
        const expected = await perOrganization(databaseId(organization.id), args);
        const got = organization.auditEvents;
        expect(
          {
            totalCount: got.totalCount,
            pageInfo: got.pageInfo,
            edges: got.edges.map(({ cursor, node }: any) => ({ cursor, node: { id: node.id, action: node.action, targetType: node.targetType, before: node.before, after: node.after, requestId: node.requestId, createdAt: node.createdAt } })),
          },
          JSON.stringify(args),
        ).toEqual(expected);
      }
      return organizations;
    };

    const shapes: Args[] = [
      {},
      { first: 3 },
      { first: 3, orderBy: { direction: "ASC" } },
      { first: 2, action: "member.added" },
      { first: 8, action: "member.updated", orderBy: { direction: "ASC" } },
      { last: 2 },
      { last: 3, orderBy: { direction: "ASC" } },
      { first: 0 },
      { last: 0 },
      { first: 100 },
    ];
    for (const args of shapes) await compare(args);

    // Cursors handed out by the list, forwards and backwards, in both orders, with and without a filter.
    const firstOrganization = (await batched({ first: 4 }))[0]!;
    const [, second, third] = firstOrganization.auditEvents.edges.map((edge: any) => edge.cursor);
    const ascending = (await batched({ first: 4, orderBy: { direction: "ASC" } }))[0]!.auditEvents.edges.map((edge: any) => edge.cursor);
    const single = (args: Args) =>
      t.gql(
        `query($id: ID!, $first: Int, $last: Int, $after: String, $before: String, $action: String, $orderBy: AuditEventOrder) { organization(id: $id) { id auditEvents(first: $first, last: $last, after: $after, before: $before, action: $action, orderBy: $orderBy) {
          totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { cursor node { id action targetType before after requestId createdAt } } } } }`,
        { id: firstOrganization.id, ...args },
        auditor.token,
      );
    const organizationId = databaseId(firstOrganization.id);
    for (const args of [
      { first: 2, after: second },
      { first: 10, after: third },
      { last: 2, before: third },
      { last: 10, before: second },
      { first: 2, after: ascending[1], orderBy: { direction: "ASC" as const } },
      { last: 1, before: ascending[3], orderBy: { direction: "ASC" as const } },
      { after: second },
      { before: third },
      // An id that names no event: an empty page, as before.
      { first: 2, after: Buffer.from("GPC:S:0190a8a0-0000-7000-8000-000000000000").toString("base64") },
    ] as Args[]) {
      const result = await single(args);
      expect(result.errors, JSON.stringify(args)).toBeUndefined();
      const got = result.data.organization.auditEvents;
      expect({ ...got, edges: got.edges.map(({ cursor, node }: any) => ({ cursor, node })) }, JSON.stringify(args)).toEqual(await perOrganization(organizationId, args));
    }
  });
});
