// The floor a GraphQL layer can approach: a plain node:http handler that answers the
// benchmark's Q0, Q1, Q2, W1 and W2 with the fewest batched SQL statements through `pg`, checks
// the same token and permissions, follows the same rules, and writes the same JSON as the service.
// Usage: tsx bench/baseline.ts   (env: DATABASE_URL, PORT, POOL_SIZE)
import { createHash, randomUUID } from "node:crypto";
import http from "node:http";
import pg from "pg";

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.POOL_SIZE ?? 10) });
pool.on("error", () => {});
const gid = (type: string, id: string) => Buffer.from(`${type}:${id}`).toString("base64");
const idOf = (globalId: string) => Buffer.from(globalId, "base64").toString().split(":")[1] ?? "";
/** src/core/permissions.ts SYSTEM_ROLES.owner.id (the baseline imports nothing from the service). */
const OWNER_ROLE_ID = "00000000-0000-7000-8000-000000000001";

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

interface Caller {
  userId: string;
  tokenId: string;
  requestId: string;
}

/** The token check (src/auth/authenticate.ts): one indexed statement, the token by its hash with its user. */
async function caller(authorization: string | undefined): Promise<Caller> {
  const token = /^Bearer (\S+)$/.exec(authorization ?? "")?.[1];
  if (!token) throw new HttpError(401, "no token");
  const hash = createHash("sha256").update(token).digest("hex");
  const { rows } = await pool.query(
    `SELECT u.id, t.id AS "tokenId" FROM "ApiToken" t JOIN "User" u ON u.id = t."userId"
      WHERE t."tokenHash" = $1 AND t."revokedAt" IS NULL AND (t."expiresAt" IS NULL OR t."expiresAt" > now()) AND u.status = 'ACTIVE'`,
    [hash],
  );
  if (!rows[0]) throw new HttpError(401, "bad token");
  return { userId: rows[0].id, tokenId: rows[0].tokenId, requestId: randomUUID() };
}

interface MemberRow {
  id: string;
  organizationId: string;
  status: string;
  joinedAt: Date;
  key: string;
  roleName: string;
  uid: string;
  email: string;
  firstName: string | null;
  lastName: string | null;
}

const MEMBER_COLUMNS = `m.id, m."organizationId", m.status, m."joinedAt", r.key, r.name AS "roleName",
  u.id AS uid, u.email, u."firstName", u."lastName"`;

const memberJson = (row: MemberRow) => ({
  node: {
    id: gid("Member", row.id),
    status: row.status,
    joinedAt: row.joinedAt.toISOString(),
    role: { key: row.key, name: row.roleName },
    user: { id: gid("User", row.uid), email: row.email, firstName: row.firstName, lastName: row.lastName },
  },
});

async function q1(viewer: string, slug: string) {
  const { rows } = await pool.query(
    `SELECT o.id, o.name, r.permissions FROM "Organization" o
       JOIN "Member" m ON m."organizationId" = o.id AND m."userId" = $2 AND m.status = 'ACTIVE'
       JOIN "Role" r ON r.id = m."roleId"
      WHERE o.slug = $1`,
    [slug, viewer],
  );
  const org = rows[0];
  if (!org || !org.permissions.includes("org:read") || !org.permissions.includes("members:read")) throw new HttpError(404, "not found");
  const [members, count] = await Promise.all([
    pool.query<MemberRow>(
      `SELECT ${MEMBER_COLUMNS} FROM "Member" m JOIN "User" u ON u.id = m."userId" JOIN "Role" r ON r.id = m."roleId"
        WHERE m."organizationId" = $1 ORDER BY m."joinedAt", m.id LIMIT 50`,
      [org.id],
    ),
    pool.query(`SELECT count(*)::int AS n FROM "Member" WHERE "organizationId" = $1`, [org.id]),
  ]);
  return {
    organization: {
      id: gid("Organization", org.id),
      name: org.name,
      members: { totalCount: count.rows[0].n, edges: members.rows.map(memberJson) },
    },
  };
}

async function q2(viewer: string) {
  const visible = `FROM "Organization" o JOIN "Member" vm ON vm."organizationId" = o.id AND vm."userId" = $1 AND vm.status = 'ACTIVE'
    JOIN "Role" vr ON vr.id = vm."roleId" WHERE 'org:read' = ANY(vr.permissions)`;
  const [orgs, total] = await Promise.all([
    pool.query(`SELECT o.id, o.name, o.slug, 'members:read' = ANY(vr.permissions) AS "canReadMembers" ${visible} ORDER BY o.name, o.id LIMIT 100`, [viewer]),
    pool.query(`SELECT count(*)::int AS n ${visible}`, [viewer]),
  ]);
  const ids = orgs.rows.filter((org) => org.canReadMembers).map((org) => org.id);
  const [members, counts] = await Promise.all([
    pool.query<MemberRow>(
      `SELECT x.* FROM unnest($1::uuid[]) AS target(id) CROSS JOIN LATERAL (
         SELECT ${MEMBER_COLUMNS} FROM "Member" m JOIN "User" u ON u.id = m."userId" JOIN "Role" r ON r.id = m."roleId"
          WHERE m."organizationId" = target.id ORDER BY m."joinedAt", m.id LIMIT 50) x`,
      [ids],
    ),
    pool.query(`SELECT "organizationId", count(*)::int AS n FROM "Member" WHERE "organizationId" = ANY($1::uuid[]) GROUP BY 1`, [ids]),
  ]);
  const byOrg = new Map<string, MemberRow[]>();
  for (const row of members.rows) byOrg.set(row.organizationId, [...(byOrg.get(row.organizationId) ?? []), row]);
  const countByOrg = new Map(counts.rows.map((row) => [row.organizationId, row.n]));
  return {
    organizations: {
      totalCount: total.rows[0].n,
      edges: orgs.rows.map((org) => ({
        node: {
          id: gid("Organization", org.id),
          name: org.name,
          slug: org.slug,
          members: { totalCount: countByOrg.get(org.id) ?? 0, edges: (byOrg.get(org.id) ?? []).map(memberJson) },
        },
      })),
    },
  };
}

/** One transaction on one pooled connection: BEGIN, `work`, COMMIT (ROLLBACK on any error). */
async function transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    const result = await work(client);
    await client.query("COMMIT");
    return result;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}

interface Standing {
  status: string;
  roleId: string;
  permissions: string[];
  userStatus: string;
}

/** The caller's membership in the organization `$org` names (the accepted one first), as JSON. */
const standingSql = (org: string, user: string) => `(SELECT json_build_object('status', m.status, 'roleId', m."roleId", 'permissions', r.permissions, 'userStatus', u.status)
    FROM "Member" m JOIN "Role" r ON r.id = m."roleId" JOIN "User" u ON u.id = m."userId"
   WHERE m."organizationId" = ${org} AND m."userId" = ${user} ORDER BY m."pendingEmail" LIMIT 1)`;

/** src/core/rules.ts in short: an active membership of an active account with `permission`. */
function need(standing: Standing | null, permission: string): Set<string> {
  if (!standing || standing.userStatus !== "ACTIVE") throw new HttpError(404, "Organization not found");
  if (standing.status !== "ACTIVE") throw new HttpError(403, `membership ${standing.status.toLowerCase()}`);
  const held = new Set(standing.permissions);
  if (!held.has(permission)) throw new HttpError(403, `missing ${permission}`);
  return held;
}

/** No escalation (rules.canGrant / canManage): the owner role needs an owner, other permissions must be the caller's own. */
function within(standing: Standing, held: Set<string>, touchesOwner: boolean, permissions: string[]): void {
  if (touchesOwner && standing.roleId !== OWNER_ROLE_ID) throw new HttpError(403, "owner only");
  if (permissions.some((permission) => !held.has(permission))) throw new HttpError(403, "escalation");
}

/**
 * addMember as the service does it (src/domain/members.ts): lock the organization and the address,
 * check members:create and the default role, find the address's holder (or make a placeholder),
 * refuse a duplicate, add a PENDING membership, write the audit row. Five statements: BEGIN, lock,
 * read, write, COMMIT.
 */
async function w1(who: Caller, input: { organizationId: string; email: string }) {
  const organizationId = idOf(input.organizationId);
  const email = input.email.trim().toLowerCase();
  return transaction(async (client) => {
    // The organization's row first, then the address (the service's order), both until COMMIT.
    const locked = await client.query(
      `WITH o AS (SELECT id FROM "Organization" WHERE id = $1 FOR UPDATE) SELECT pg_advisory_xact_lock(hashtext($2))::text FROM o`,
      [organizationId, `email:${email}`],
    );
    if (!locked.rows[0]) throw new HttpError(404, "Organization not found");
    const read = async () =>
      (
        await client.query(
          `SELECT ${standingSql("$1", "$2")} AS standing,
             (SELECT json_build_object('id', id, 'key', key, 'permissions', permissions) FROM "Role"
               WHERE ("organizationId" = $1 OR "organizationId" IS NULL) AND "isDefault" ORDER BY "organizationId" NULLS LAST LIMIT 1) AS role,
             (SELECT json_build_object('id', u.id, 'email', u.email, 'isPlaceholder', u."isPlaceholder",
                     'accepted', EXISTS (SELECT 1 FROM "Member" am WHERE am."organizationId" = $1 AND am."userId" = u.id AND am."pendingEmail" = ''))
                FROM "User" u WHERE u.id = coalesce((SELECT "userId" FROM "UserEmail" WHERE "verifiedEmail" = $3), (SELECT id FROM "User" WHERE email = $3))) AS holder,
             EXISTS (SELECT 1 FROM "Member" WHERE "organizationId" = $1 AND status = 'PENDING' AND "pendingEmail" = $3) AS pending`,
          [organizationId, who.userId, email],
        )
      ).rows[0];
    let facts = await read();
    const held = need(facts.standing, "members:create");
    within(facts.standing, held, facts.role.id === OWNER_ROLE_ID, facts.role.permissions);
    if (facts.holder?.isPlaceholder) {
      // A placeholder can be taken over meanwhile (contacts.absorbPlaceholder): lock it, read again.
      await client.query(`SELECT id FROM "User" WHERE id = $1 FOR UPDATE`, [facts.holder.id]);
      facts = await read();
    }
    if (facts.pending || (facts.holder && facts.holder.email === email && facts.holder.accepted)) throw new HttpError(409, `${email} is already a member`);
    const memberId = randomUUID();
    await client.query(
      `WITH new_user AS (
         INSERT INTO "User" (id, email, status, "isPlaceholder", "invitedAt", "createdAt", "updatedAt")
         SELECT $4, $3, 'INVITED', true, now(), now(), now() WHERE $5::boolean RETURNING id, email),
       new_email AS (
         INSERT INTO "UserEmail" (id, "userId", email, "isPrimary", "isVerified", "createdAt")
         SELECT gen_random_uuid(), id, email, true, false, now() FROM new_user),
       member AS (
         INSERT INTO "Member" (id, "organizationId", "userId", "roleId", "invitedById", status, consented, "pendingEmail", "joinedAt", "createdAt", "updatedAt")
         VALUES ($6, $1, $4, $7, $2, 'PENDING', false, $3, now(), now(), now()) RETURNING *)
       INSERT INTO "AuditEvent" (id, "organizationId", "actorUserId", "actorTokenId", action, "targetType", "targetId", after, "requestId", "createdAt")
       SELECT gen_random_uuid(), $1, $2, $8, 'member.added', 'Member', member.id::text,
              jsonb_build_object('email', $3::text, 'roleId', member."roleId", 'profilePictureUrl', member."profilePictureUrl", 'defaultLocationId', member."defaultLocationId",
                                 'status', member.status, 'isPrimary', member."isPrimary", 'publicMetadata', member."publicMetadata", 'privateMetadata', member."privateMetadata"),
              $9, now()
         FROM member`,
      [organizationId, who.userId, email, facts.holder?.id ?? randomUUID(), !facts.holder, memberId, facts.role.id, who.tokenId, who.requestId],
    );
    return { addMember: { member: { id: gid("Member", memberId), role: { key: facts.role.key }, user: { email } } } };
  });
}

/**
 * updateMemberRole as the service does it: lock the member's organization, read (under the lock)
 * the member, the caller's standing, the role and — only when the member is an owner — the owner
 * count, apply the rules (members:update, no escalation, owners by owners, the last owner stays),
 * then change the role and write the audit row in one statement. Five statements: BEGIN, lock,
 * read, write, COMMIT; four when the member already has the role.
 */
async function w2(who: Caller, input: { memberId: string; roleId: string }) {
  const memberId = idOf(input.memberId);
  const roleId = idOf(input.roleId);
  return transaction(async (client) => {
    const locked = await client.query(`SELECT id FROM "Organization" WHERE id = (SELECT "organizationId" FROM "Member" WHERE id = $1) FOR UPDATE`, [memberId]);
    if (!locked.rows[0]) throw new HttpError(404, "Member not found");
    const { rows } = await client.query(
      `SELECT t."organizationId", t."roleId", t.status, tr.key AS "roleKey", tr.permissions AS "rolePermissions", tu.status AS "userStatus",
              ${standingSql(`t."organizationId"`, "$2")} AS standing,
              (SELECT json_build_object('id', id, 'key', key, 'organizationId', "organizationId", 'permissions', permissions) FROM "Role" WHERE id = $3) AS role,
              CASE WHEN t."roleId" = $4 THEN (SELECT count(*)::int FROM "Member" o JOIN "User" ou ON ou.id = o."userId"
                WHERE o."organizationId" = t."organizationId" AND o."roleId" = $4 AND o.status = 'ACTIVE' AND ou.status = 'ACTIVE') END AS owners
         FROM "Member" t JOIN "Role" tr ON tr.id = t."roleId" JOIN "User" tu ON tu.id = t."userId" WHERE t.id = $1`,
      [memberId, who.userId, roleId, OWNER_ROLE_ID],
    );
    const target = rows[0]!;
    const role = target.role as { id: string; key: string; organizationId: string | null; permissions: string[] } | null;
    const held = need(target.standing, "members:update");
    if (!role || (role.organizationId !== null && role.organizationId !== target.organizationId)) throw new HttpError(404, "Role not found");
    within(target.standing, held, target.roleId === OWNER_ROLE_ID, target.rolePermissions);
    within(target.standing, held, role.id === OWNER_ROLE_ID, role.permissions);
    const countsAsOwner = target.roleId === OWNER_ROLE_ID && target.status === "ACTIVE" && target.userStatus === "ACTIVE";
    if (role.id !== OWNER_ROLE_ID && role.id !== target.roleId && countsAsOwner && target.owners <= 1) throw new HttpError(409, "last owner");
    if (role.id !== target.roleId) {
      await client.query(
        `WITH changed AS (UPDATE "Member" SET "roleId" = $2, version = version + 1, "updatedAt" = now() WHERE id = $1 RETURNING id)
         INSERT INTO "AuditEvent" (id, "organizationId", "actorUserId", "actorTokenId", action, "targetType", "targetId", before, after, "requestId", "createdAt")
         SELECT gen_random_uuid(), $3, $4, $5, 'member.role_changed', 'Member', changed.id::text, $6, $7, $8, now() FROM changed`,
        [
          memberId,
          role.id,
          target.organizationId,
          who.userId,
          who.tokenId,
          JSON.stringify({ roleId: target.roleId, roleKey: target.roleKey }),
          JSON.stringify({ roleId: role.id, roleKey: role.key }),
          who.requestId,
        ],
      );
    }
    return { updateMemberRole: { member: { id: gid("Member", memberId), role: { key: role.key } } } };
  });
}

const server = http.createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on("data", (chunk: Buffer) => chunks.push(chunk));
  request.on("end", async () => {
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { query: string; variables?: Record<string, any> };
      const who = await caller(request.headers.authorization);
      const operation = /^(?:query|mutation)\s+(\w+)/.exec(body.query)?.[1];
      const data =
        operation === "Q0" ? { __typename: "Query" }
        : operation === "Q1" ? await q1(who.userId, body.variables!.slug)
        : operation === "Q2" ? await q2(who.userId)
        : operation === "W1" ? await w1(who, body.variables!.input)
        : operation === "W2" ? await w2(who, body.variables!.input)
        : null;
      if (!data) throw new HttpError(400, `the baseline answers Q0, Q1, Q2, W1 and W2 only (got ${operation})`);
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify({ data }));
    } catch (error) {
      const status = error instanceof HttpError ? error.status : 500;
      response.writeHead(status, { "content-type": "application/json" });
      response.end(JSON.stringify({ errors: [{ message: (error as Error).message }] }));
    }
  });
});

server.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => {
  const address = server.address();
  console.log(`baseline listening on ${typeof address === "object" && address ? address.port : ""}`);
});
process.on("SIGTERM", () => server.close(() => pool.end().then(() => process.exit(0))));
