// Property-based fuzzing: generated hostile values — huge and odd unicode strings, deep JSON,
// wrong-type and foreign global IDs, negative and huge numbers, nulls where forbidden — thrown
// at every mutation input and the main query arguments. Whatever comes in: no 5xx, no
// INTERNAL_SERVER_ERROR, only documented codes, no internals in messages, and a refused write
// leaves the database as it was. Fixed seed and bounded runs, so CI is repeatable.
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, globalId, orgWithPeople, roleGid, type OrgFixture, type TestApp } from "./helpers.js";

const SEED = 20261128;
const RUNS = Number(process.env.FUZZ_RUNS ?? 50);

/** Every code a client may see (README, Security / The GraphQL API). */
const DOCUMENTED = new Set([
  "UNAUTHENTICATED", "FORBIDDEN", "NOT_FOUND", "BAD_USER_INPUT", "CONFLICT", "LAST_OWNER", "STALE_VERSION", "INVITATION_EXPIRED",
  "SERVICE_UNAVAILABLE", "RATE_LIMITED", "GRAPHQL_VALIDATION_FAILED", "GRAPHQL_PARSE_FAILED", "PERSISTED_QUERY_ONLY",
  "PERSISTED_QUERY_NOT_FOUND", "DEPTH_LIMIT_EXCEEDED", "ALIAS_LIMIT_EXCEEDED", "TOKEN_LIMIT_EXCEEDED", "DIRECTIVE_LIMIT_EXCEEDED",
  "COST_LIMIT_EXCEEDED", "PAYLOAD_TOO_LARGE", "TIMEOUT",
]);
const INTERNALS = /prisma|node_modules|\.ts:\d+|\bat \S+ \(|SELECT |INSERT |UPDATE "|DriverAdapter|invocation|stack/i;

let t: TestApp;
let acme: OrgFixture;
let other: OrgFixture;
let ids: string[];

beforeAll(async () => {
  t = await createTestApp({ RATE_LIMITS: "false" });
  acme = await orgWithPeople(t.db, "acme");
  other = await orgWithPeople(t.db, "other");
  const foreignRole = await t.db.prisma.role.create({ data: { organizationId: other.organization.id, key: "foreign", name: "Foreign", permissions: ["org:read"] } });
  ids = [
    acme.orgGid, acme.member.memberGid, acme.owner.memberGid, roleGid("owner"), roleGid("admin"),
    other.orgGid, other.member.memberGid, globalId("Role", foreignRole.id),
    globalId("Member", acme.organization.id), globalId("Organization", acme.member.memberId), globalId("User", acme.owner.user.id),
  ];
});
afterAll(() => t.close());

const text = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 60 }),
  fc.constantFrom("", " ", "\u0000", "'; DROP TABLE \"User\"; --", "<script>alert(1)</script>", "../../etc/passwd", "x".repeat(5000), "😀".repeat(300), "a@b", "ADMIN", "owner"),
);
const id = fc.oneof(fc.constantFrom(...Array.from({ length: 11 }, (_, i) => i)).map((i) => ids[i]!), text, fc.base64String({ maxLength: 40 }));
const int = fc.oneof(fc.integer(), fc.constantFrom(-1, 0, 1, 2 ** 31 - 1, -(2 ** 31), 101, 1_000_000));
const json: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: "small", withCrossShrink: true }, fc.string({ maxLength: 10 }), fc.integer(), fc.boolean(), fc.constant(null), fc.array(tie("value"), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 5 }), tie("value"), { maxKeys: 3 })),
})).value;
const deep = fc.integer({ min: 5, max: 60 }).map((n) => { let v: unknown = 1; for (let i = 0; i < n; i++) v = { n: v }; return v; });
const object = fc.oneof(json, deep, fc.constant("x".repeat(9000)).map((s) => ({ s })));
const maybe = <T,>(arb: fc.Arbitrary<T>) => fc.oneof(arb, fc.constant(null), fc.constant(undefined));

interface Target {
  name: string;
  query: string;
  variables: fc.Arbitrary<Record<string, unknown>>;
  mutation: boolean;
}

const m = (name: string, fields: Record<string, fc.Arbitrary<unknown>>): Target => ({
  name,
  mutation: true,
  query: `mutation($input: ${name[0]!.toUpperCase()}${name.slice(1)}Input!) { ${name}(input: $input) { __typename } }`,
  variables: fc.record(fields, { requiredKeys: [] }).map((input) => ({ input })),
});

const TARGETS: Target[] = [
  m("createOrganization", { name: text, slug: maybe(text), timezone: maybe(text), businessInformation: maybe(text), idempotencyKey: maybe(text) }),
  m("updateOrganization", { organizationId: id, name: maybe(text), slug: maybe(text), publicMetadata: maybe(object), privateMetadata: maybe(object), expectedVersion: maybe(int) }),
  m("addMember", { organizationId: id, email: text, roleId: maybe(id), idempotencyKey: maybe(text) }),
  m("updateMemberRole", { memberId: id, roleId: id, expectedVersion: maybe(int) }),
  m("updateMember", { memberId: id, publicMetadata: maybe(object), isPrimary: maybe(fc.boolean()), settings: maybe(fc.record({ profilePictureUrl: maybe(text), defaultLocationId: maybe(id) }, { requiredKeys: [] })) }),
  m("suspendMember", { memberId: id, expectedVersion: maybe(int) }),
  m("removeMember", { memberId: id }),
  m("transferOwnership", { organizationId: id, toMemberId: id }),
  m("createRole", { organizationId: id, name: text, key: maybe(text), description: maybe(text), permissions: fc.array(fc.oneof(text, fc.constantFrom("org:read", "org:delete")), { maxLength: 150 }) }),
  m("updateRole", { roleId: id, name: maybe(text), permissions: maybe(fc.array(text, { maxLength: 5 })), expectedVersion: maybe(int) }),
  m("deleteRole", { roleId: id, reassignToRoleId: maybe(id) }),
  m("createInvitation", { organizationId: id, email: text, roleId: maybe(id), expiresInDays: maybe(int) }),
  m("acceptInvitation", { token: text }),
  m("createLocation", { organizationId: id, name: text, timezone: maybe(text), address: maybe(text) }),
  m("setMemberLocations", { memberId: id, locations: fc.array(fc.record({ locationId: id, roleIds: fc.array(id, { maxLength: 12 }) }), { maxLength: 4 }) }),
  m("addEmail", { email: text }),
  m("addPhone", { phoneNumber: text }),
  m("setUsername", { username: maybe(text) }),
  m("createApiToken", { name: text, expiresInDays: maybe(int) }),
  {
    name: "members page",
    mutation: false,
    query: `query($id: ID!, $first: Int, $after: String, $search: String, $roleIds: [ID!]) { organization(id: $id) { members(first: $first, after: $after, filter: { search: $search, roleIds: $roleIds }) { totalCount edges { node { id } } } } }`,
    variables: fc.record({ id, first: maybe(int), after: maybe(text), search: maybe(text), roleIds: maybe(fc.array(id, { maxLength: 3 })) }, { requiredKeys: ["id"] }),
  },
  {
    name: "checks",
    mutation: false,
    query: `query($org: ID!, $permissions: [String!]!, $m: ID!, $r: ID!) { checkPermissions(organizationId: $org, permissions: $permissions) { allowed } canAssignRole(memberId: $m, roleId: $r) { allowed } }`,
    variables: fc.record({ org: id, permissions: fc.array(text, { maxLength: 60 }), m: id, r: id }),
  },
  {
    name: "node",
    mutation: false,
    query: `query($id: ID!, $slug: String) { node(id: $id) { id } organization(slug: $slug) { id } }`,
    variables: fc.record({ id, slug: maybe(text) }, { requiredKeys: ["id"] }),
  },
];

const auditCount = () => t.db.prisma.auditEvent.count();

describe("fuzzing every input", () => {
  it.each(TARGETS.map((target) => [target.name, target] as const))("%s: never a 5xx, an undocumented code, or a leak", async (_name, target) => {
    await fc.assert(
      fc.asyncProperty(variables(target), fc.constantFrom(acme.owner.token, acme.member.token, other.owner.token), async (vars, token) => {
        const before = target.mutation ? await auditCount() : 0;
        const result = await t.gql(target.query, vars, token);
        expect(result.status).toBeLessThan(500);
        for (const error of result.errors ?? []) {
          const code = error.extensions?.code ?? "";
          expect(DOCUMENTED.has(code), `${code}: ${error.message}`).toBe(true);
          expect(error.message).not.toMatch(INTERNALS);
        }
        if (target.mutation && result.errors?.length && !result.data?.[target.name]) {
          expect(await auditCount()).toBe(before);
        }
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });
});

function variables(target: Target) {
  return target.variables;
}
