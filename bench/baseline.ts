// The floor a GraphQL layer can approach: a plain node:http handler that answers the
// benchmark's q1, q2 and w1 with the fewest batched SQL statements through `pg`, checks the
// same token and permissions, and writes the same JSON as the service.
// Usage: tsx bench/baseline.ts   (env: DATABASE_URL, PORT, POOL_SIZE)
import { createHash, randomUUID } from "node:crypto";
import http from "node:http";
import pg from "pg";

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.POOL_SIZE ?? 10) });
pool.on("error", () => {});
const gid = (type: string, id: string) => Buffer.from(`${type}:${id}`).toString("base64");

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function viewerId(authorization: string | undefined): Promise<string> {
  const token = /^Bearer (\S+)$/.exec(authorization ?? "")?.[1];
  if (!token) throw new HttpError(401, "no token");
  const hash = createHash("sha256").update(token).digest("hex");
  const { rows } = await pool.query(
    `SELECT u.id FROM "ApiToken" t JOIN "User" u ON u.id = t."userId"
      WHERE t."tokenHash" = $1 AND t."revokedAt" IS NULL AND (t."expiresAt" IS NULL OR t."expiresAt" > now()) AND u.status = 'ACTIVE'`,
    [hash],
  );
  if (!rows[0]) throw new HttpError(401, "bad token");
  return rows[0].id;
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

async function w1(viewer: string, input: { organizationId: string; email: string }) {
  const organizationId = Buffer.from(input.organizationId, "base64").toString().split(":")[1]!;
  const email = input.email.trim().toLowerCase();
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    await client.query(`SELECT id FROM "Organization" WHERE id = $1 FOR UPDATE`, [organizationId]);
    const access = await client.query(
      `SELECT r.permissions FROM "Member" m JOIN "Role" r ON r.id = m."roleId" WHERE m."organizationId" = $1 AND m."userId" = $2 AND m.status = 'ACTIVE'`,
      [organizationId, viewer],
    );
    if (!access.rows[0]?.permissions.includes("members:create")) throw new HttpError(403, "forbidden");
    const role = await client.query(`SELECT id, key FROM "Role" WHERE "organizationId" IS NULL AND "isDefault"`);
    const user = await client.query(
      `INSERT INTO "User" (id, email, status, "invitedAt", "createdAt", "updatedAt") VALUES ($1, $2, 'INVITED', now(), now(), now())
       ON CONFLICT (email) DO UPDATE SET email = EXCLUDED.email RETURNING id`,
      [randomUUID(), email],
    );
    const memberId = randomUUID();
    await client.query(
      `INSERT INTO "Member" (id, "organizationId", "userId", "roleId", "invitedById", "createdAt", "updatedAt", "joinedAt")
       VALUES ($1, $2, $3, $4, $5, now(), now(), now())`,
      [memberId, organizationId, user.rows[0].id, role.rows[0].id, viewer],
    );
    await client.query(
      `INSERT INTO "AuditEvent" (id, "organizationId", "actorUserId", action, "targetType", "targetId", after, "createdAt")
       VALUES ($1, $2, $3, 'member.added', 'Member', $4, $5, now())`,
      [randomUUID(), organizationId, viewer, memberId, JSON.stringify({ email, roleId: role.rows[0].id })],
    );
    await client.query("COMMIT");
    return { addMember: { member: { id: gid("Member", memberId), role: { key: role.rows[0].key }, user: { email } } } };
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}


const server = http.createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on("data", (chunk: Buffer) => chunks.push(chunk));
  request.on("end", async () => {
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { query: string; variables?: Record<string, any> };
      const viewer = await viewerId(request.headers.authorization);
      const operation = /^(?:query|mutation)\s+(\w+)/.exec(body.query)?.[1];
      const data =
        operation === "Q1" ? await q1(viewer, body.variables!.slug)
        : operation === "Q2" ? await q2(viewer)
        : operation === "W1" ? await w1(viewer, body.variables!.input)
        : null;
      if (!data) throw new HttpError(400, `the baseline answers Q1, Q2 and W1 only (got ${operation})`);
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
