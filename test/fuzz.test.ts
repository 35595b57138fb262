// Property-based fuzzing: generated hostile values — huge and odd unicode strings, deep JSON,
// wrong-type and foreign global IDs, negative and huge numbers, nulls where forbidden, forged
// cursors, `_entities` representations of anything, metadata keys with NUL or lone surrogates,
// variables nested 20,000 deep — thrown at every mutation input and the main query arguments
// and lists. Whatever comes in: no 5xx, no
// INTERNAL_SERVER_ERROR, only documented codes, no internals in messages, and a refused write
// leaves the database as it was. Fixed seed and bounded runs, so CI is repeatable.
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, globalId, orgWithPeople, roleGid, type GqlResult, type OrgFixture, type TestApp } from "./helpers.js";

const SEED = 20261128;
const RUNS = Number(process.env.FUZZ_RUNS ?? 50);

/** Every code a client may see (README, Security / The GraphQL API). */
const DOCUMENTED = new Set([
  "UNAUTHENTICATED", "FORBIDDEN", "NOT_FOUND", "BAD_USER_INPUT", "CONFLICT", "LAST_OWNER", "STALE_VERSION", "INVITATION_EXPIRED",
  "SERVICE_UNAVAILABLE", "RATE_LIMITED", "GRAPHQL_VALIDATION_FAILED", "GRAPHQL_PARSE_FAILED", "PERSISTED_QUERY_ONLY",
  "PERSISTED_QUERY_NOT_FOUND", "DEPTH_LIMIT_EXCEEDED", "ALIAS_LIMIT_EXCEEDED", "TOKEN_LIMIT_EXCEEDED", "DIRECTIVE_LIMIT_EXCEEDED",
  "COST_LIMIT_EXCEEDED", "PAYLOAD_TOO_LARGE", "TIMEOUT", "INTROSPECTION_DISABLED", "BAD_REQUEST",
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
  fc.constantFrom("", " ", "\u0000", "'; DROP TABLE \"User\"; --", "<script>alert(1)</script>", "../../etc/passwd", "x".repeat(5000), "😀".repeat(300), "a@b", "ADMIN", "owner", "\ud800", "a\udc00b", "\udc00\ud800"),
);
const id = fc.oneof(fc.constantFrom(...Array.from({ length: 11 }, (_, i) => i)).map((i) => ids[i]!), text, fc.base64String({ maxLength: 40 }));
const int = fc.oneof(fc.integer(), fc.constantFrom(-1, 0, 1, 2 ** 31 - 1, -(2 ** 31), 101, 1_000_000));
const json: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: "small", withCrossShrink: true }, fc.string({ maxLength: 10 }), fc.integer(), fc.boolean(), fc.constant(null), fc.array(tie("value"), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 5 }), tie("value"), { maxKeys: 3 })),
})).value;
const deep = fc.integer({ min: 5, max: 60 }).map((n) => { let v: unknown = 1; for (let i = 0; i < n; i++) v = { n: v }; return v; });
const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((unit) => String.fromCharCode(unit));
/** Keys PostgreSQL can't store (NUL, lone surrogates) among odd unicode ones, at any depth. */
const metadataKey = fc.oneof(fc.string({ unit: "binary", maxLength: 6 }), loneSurrogate, fc.constantFrom("\u0000", "a\u0000b", "x\udfff", "😀", "\u202e", "\ufeff", "__proto__", "constructor", "", " "));
const oddKeys = fc.dictionary(metadataKey, fc.oneof(json, metadataKey, fc.dictionary(metadataKey, fc.oneof(metadataKey, json), { maxKeys: 2 })), { maxKeys: 3 });
const object = fc.oneof(json, deep, oddKeys, fc.constant("x".repeat(9000)).map((s) => ({ s })));
const maybe = <T,>(arb: fc.Arbitrary<T>) => fc.oneof(arb, fc.constant(null), fc.constant(undefined));
const base64 = (value: string) => Buffer.from(value).toString("base64");
const cursorPart = fc.oneof(text, fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.uuid(), fc.date({ noInvalidDate: true }).map((date) => date.toISOString()), fc.constantFrom("0000-01-01T00:00:00.000Z", "2024-02-30T00:00:00.000Z"), json);
/** Every list's cursor encoding, filled with values of random types, and plain garbage. */
const cursor = fc.oneof(
  fc.array(cursorPart, { maxLength: 4 }).map((values) => Buffer.from(JSON.stringify(values)).toString("base64url")),
  fc.tuple(fc.constantFrom("S", "N", "I", "D", "B", "M", "O", "Z", "T", "J", "X"), fc.oneof(text, fc.uuid(), fc.array(cursorPart, { maxLength: 3 }).map((values) => JSON.stringify(values)))).map(([tag, payload]) => base64(`GPC:${tag}:${payload}`)),
  fc.oneof(int.map(String), text).map((offset) => base64(`OffsetConnection:${offset}`)),
  text,
  fc.base64String({ maxLength: 60 }),
);
const typename = fc.oneof(fc.constantFrom("Organization", "User", "Member", "Role", "Location", "Invitation", "ApiToken", "AuditEvent", "PageInfo", "Query", "Mutation", "Node", "_Entity", "_Service", "__Type", "String", "JSON", "MemberStatus", "AddMemberInput"), text);
const representation = fc.oneof(
  fc.record({ __typename: fc.oneof(typename, json), id: maybe(fc.oneof(id, json)), slug: maybe(fc.oneof(text, json)), email: maybe(fc.oneof(text, json)) }, { requiredKeys: [] }),
  json,
  text,
);
/** JSON text nested up to 20,000 deep (JSON.stringify can't write that: bodies with it are built by hand). */
const nested = fc
  .record({ depth: fc.integer({ min: 1, max: 20_000 }), open: fc.constantFrom("[", '{"a":', '{"\\u0000":', '{"\\ud800":'), leaf: fc.constantFrom("1", '"x"', '"\\u0000"', '"\\ud800"', "null", "{}", "[]") })
  .map(({ depth, open, leaf }) => `${open.repeat(depth)}${leaf}${(open === "[" ? "]" : "}").repeat(depth)}`);

interface Target {
  name: string;
  query: string;
  variables: fc.Arbitrary<Record<string, unknown>>;
  mutation: boolean;
  /** The request body, written by hand (for values nested deeper than JSON.stringify goes). */
  body?: (variables: Record<string, unknown>) => string;
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
  m("acceptMembership", { memberId: id }),
  m("declineMembership", { memberId: id }),
  m("leaveOrganization", { organizationId: id }),
  {
    name: "nodes",
    mutation: false,
    query: `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`,
    // Real, foreign and random ids, and ids naming any type at all (scalars, enums, inputs…).
    variables: fc.record({ ids: fc.array(fc.oneof(id, fc.tuple(typename, fc.oneof(fc.uuid(), text)).map(([type, raw]) => base64(`${type}:${raw}`))), { maxLength: 8 }) }),
  },
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
  {
    name: "cursors",
    mutation: false,
    query: `query($org: ID!, $c: String, $o: MemberOrder) {
      a: organization(id: $org) { members(first: 2, after: $c, orderBy: $o) { edges { cursor } } }
      b: organization(id: $org) { members(last: 2, before: $c, orderBy: $o) { edges { cursor } } }
      c: organization(id: $org) { roles(first: 2, after: $c) { edges { cursor } } }
      d: organization(id: $org) { locations(first: 2, after: $c) { edges { cursor } } }
      e: organization(id: $org) { auditEvents(first: 2, after: $c) { edges { cursor } } }
      f: organization(id: $org) { invitations(first: 2, after: $c) { edges { cursor } } }
      organizations(first: 2, after: $c) { edges { cursor } }
      g: viewer { memberships(first: 2, after: $c) { edges { cursor } } }
      h: viewer { apiTokens(first: 2, after: $c) { edges { cursor } } invitations(first: 2, after: $c) { edges { cursor } } }
    }`,
    variables: fc.record({
      org: id,
      c: cursor,
      o: maybe(fc.record({ field: fc.constantFrom("JOINED_AT", "EMAIL", "FIRST_NAME", "LAST_NAME"), direction: fc.constantFrom("ASC", "DESC") })),
    }),
  },
  {
    name: "_entities",
    mutation: false,
    query: `query($r: [_Any!]!) { _entities(representations: $r) { __typename ... on Organization { id slug } ... on User { id email } ... on Member { id } ... on Role { id key } } }`,
    variables: fc.record({ r: fc.array(representation, { maxLength: 6 }) }),
  },
  {
    name: "nested variables (query)",
    mutation: false,
    query: `query($org: ID!, $r: [_Any!]!, $ids: [ID!], $s: String) { _entities(representations: $r) { __typename } organization(id: $org) { members(first: 1, filter: { roleIds: $ids, search: $s }) { totalCount } } }`,
    variables: fc.record({ org: id, r: fc.option(nested), ids: fc.option(nested), s: fc.option(nested), undeclared: fc.option(nested) }),
    body(vars) {
      const raw = ["ids", "s", "undeclared"].flatMap((name) => (vars[name] ? [`"${name}":${vars[name] as string}`] : []));
      return `{"query":${JSON.stringify(this.query)},"variables":{"org":${JSON.stringify(vars.org)},"r":[${(vars.r as string | null) ?? '{"__typename":"User","email":"a@b.example"}'}]${raw.map((entry) => `,${entry}`).join("")}}}`;
    },
  },
  {
    name: "nested variables (mutation)",
    mutation: true,
    query: `mutation($org: ID!, $m: JSONObject, $p: JSONObject) { updateOrganization(input: { organizationId: $org, publicMetadata: $m, privateMetadata: $p }) { organization { id } } }`,
    variables: fc.record({ org: id, m: nested, p: fc.option(nested), undeclared: fc.option(nested) }),
    body(vars) {
      const raw = ["m", "p", "undeclared"].flatMap((name) => (vars[name] ? [`"${name}":${vars[name] as string}`] : []));
      return `{"query":${JSON.stringify(this.query)},"variables":{"org":${JSON.stringify(vars.org)},${raw.join(",")}}}`;
    },
  },
];

const auditCount = () => t.db.prisma.auditEvent.count();

describe("fuzzing every input", () => {
  it.each(TARGETS.map((target) => [target.name, target] as const))("%s: never a 5xx, an undocumented code, or a leak", async (_name, target) => {
    await fc.assert(
      fc.asyncProperty(variables(target), fc.constantFrom(acme.owner.token, acme.member.token, other.owner.token), async (vars, token) => {
        const before = target.mutation ? await auditCount() : 0;
        const result = target.body ? await post(target.body(vars), token) : await t.gql(target.query, vars, token);
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

async function post(body: string, token: string): Promise<GqlResult<any>> {
  const response = await t.app.fetch("http://localhost/graphql", { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${token}` }, body });
  const answer = (await response.json()) as Omit<GqlResult<any>, "status">;
  return { status: response.status, ...answer };
}

function variables(target: Target) {
  return target.variables;
}
