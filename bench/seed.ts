// Deterministic benchmark data, written by the database itself (INSERT … SELECT over
// generate_series), so a million memberships take seconds, not a million round trips.
import { SYSTEM_ROLES } from "../src/core/permissions.js";
import type { SqlRunner } from "../src/db/sql.js";

export type Scale = "standard" | "large";

export interface ScaleShape {
  organizations: number;
  users: number;
  /** Members per organization other than the big one. */
  membersPerOrg: number;
  /** Members of org-1 (large: the 100,000-member organization). */
  bigOrgMembers: number;
  invitationsPerOrg: number;
  /** The viewer owns org-1 … org-N. */
  viewerOrgs: number;
}

export const SHAPES: Record<Scale, ScaleShape> = {
  standard: { organizations: 100, users: 5_000, membersPerOrg: 50, bigOrgMembers: 50, invitationsPerOrg: 10, viewerOrgs: 100 },
  large: { organizations: 10_000, users: 200_000, membersPerOrg: 90, bigOrgMembers: 100_000, invitationsPerOrg: 10, viewerOrgs: 100 },
};

export const VIEWER_EMAIL = "bench-viewer@example.com";
export const VIEWER_ID_SQL = `md5('viewer')::uuid`;

/** Seeds one scale into an empty, migrated database; returns row counts. */
export async function seedBench(sql: SqlRunner, scale: Scale, progress: (message: string) => void) {
  const s = SHAPES[scale];
  const step = async (label: string, statement: string) => {
    const started = Date.now();
    await sql.exec(statement);
    progress(`  ${label} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  };
  const { owner, admin, member } = SYSTEM_ROLES;

  await step(`${s.users.toLocaleString()} users + the viewer`, `
    INSERT INTO "User" (id, email, "firstName", "lastName", status, "createdAt", "updatedAt")
    VALUES (${VIEWER_ID_SQL}, '${VIEWER_EMAIL}', 'Bench', 'Viewer', 'ACTIVE', now(), now());
    INSERT INTO "User" (id, email, "firstName", "lastName", status, "createdAt", "updatedAt")
    SELECT md5('u' || i)::uuid, 'user' || i || '@bench.example', 'First' || (i % 997), 'Last' || (i % 991), 'ACTIVE',
           now() - (i || ' seconds')::interval, now()
      FROM generate_series(1, ${s.users}) AS i;`);

  await step("every user's primary email address", `
    INSERT INTO "UserEmail" (id, "userId", email, "isPrimary", "isVerified", "verifiedAt", "verifiedEmail", "createdAt")
    SELECT gen_random_uuid(), u.id, u.email, true, true, now(), u.email, now() FROM "User" u;`);

  await step(`${s.organizations.toLocaleString()} organizations`, `
    INSERT INTO "Organization" (id, slug, name, timezone, "createdById", "ownerId", "createdAt", "updatedAt")
    SELECT md5('o' || o)::uuid, 'org-' || o, 'Organization ' || lpad(o::text, 5, '0'), 'UTC', ${VIEWER_ID_SQL}, ${VIEWER_ID_SQL},
           now() - (o || ' minutes')::interval, now()
      FROM generate_series(1, ${s.organizations}) AS o;`);

  await step(`${(s.organizations * 2).toLocaleString()} custom roles`, `
    INSERT INTO "Role" (id, "organizationId", key, name, permissions, "isSystem", "isDefault", "createdAt", "updatedAt")
    SELECT md5('r' || k || '-' || o)::uuid, md5('o' || o)::uuid, (ARRAY['support', 'billing'])[k], (ARRAY['Support', 'Billing'])[k],
           CASE k WHEN 1 THEN ARRAY['org:read', 'members:read', 'members:update'] ELSE ARRAY['org:read', 'invitations:read', 'invitations:create'] END,
           false, false, now(), now()
      FROM generate_series(1, ${s.organizations}) AS o, generate_series(1, 2) AS k;`);

  // The viewer owns org-1 … org-N; everyone else gets a role by position.
  const roleFor = (m: string, o: string) =>
    `CASE WHEN ${m} % 10 = 0 THEN '${admin.id}'::uuid WHEN ${m} % 10 = 1 THEN md5('r1-' || ${o})::uuid ELSE '${member.id}'::uuid END`;
  await step(`viewer memberships`, `
    INSERT INTO "Member" (id, "organizationId", "userId", "roleId", status, "joinedAt", "createdAt", "updatedAt")
    SELECT md5('vm' || o)::uuid, md5('o' || o)::uuid, ${VIEWER_ID_SQL}, '${owner.id}', 'ACTIVE', timestamp '2024-01-01', now(), now()
      FROM generate_series(1, ${s.viewerOrgs}) AS o;`);
  await step(`${s.bigOrgMembers.toLocaleString()} members of org-1`, `
    INSERT INTO "Member" (id, "organizationId", "userId", "roleId", status, "joinedAt", "createdAt", "updatedAt")
    SELECT md5('m1-' || m)::uuid, md5('o1')::uuid, md5('u' || m)::uuid, ${roleFor("m", "1")}, 'ACTIVE',
           timestamp '2024-01-02' + (m || ' seconds')::interval, now(), now()
      FROM generate_series(1, ${s.bigOrgMembers}) AS m;`);
  await step(`${((s.organizations - 1) * s.membersPerOrg).toLocaleString()} members of the other organizations`, `
    INSERT INTO "Member" (id, "organizationId", "userId", "roleId", status, "joinedAt", "createdAt", "updatedAt")
    SELECT md5('m' || o || '-' || m)::uuid, md5('o' || o)::uuid, md5('u' || (((o * ${s.membersPerOrg} + m) % ${s.users}) + 1))::uuid,
           ${roleFor("m", "o")}, CASE WHEN m % 25 = 24 THEN 'SUSPENDED' ELSE 'ACTIVE' END::"MemberStatus",
           timestamp '2024-01-02' + (m || ' seconds')::interval, now(), now()
      FROM generate_series(2, ${s.organizations}) AS o, generate_series(0, ${s.membersPerOrg - 1}) AS m;`);

  await step(`${(s.organizations * s.invitationsPerOrg).toLocaleString()} pending invitations`, `
    INSERT INTO "Invitation" (id, "organizationId", email, "roleId", "invitedById", status, "tokenHash", "expiresAt", "createdAt", "updatedAt")
    SELECT md5('i' || o || '-' || k)::uuid, md5('o' || o)::uuid, 'invitee' || k || '-' || o || '@bench.example', '${member.id}',
           ${VIEWER_ID_SQL}, 'PENDING', md5('i' || o || '-' || k) || md5('t' || o || '-' || k), now() + interval '7 days', now(), now()
      FROM generate_series(1, ${s.organizations}) AS o, generate_series(1, ${s.invitationsPerOrg}) AS k;`);

  await step("ANALYZE", "ANALYZE");
  const [counts] = await sql.query<{ users: string; organizations: string; members: string }>(
    `SELECT (SELECT count(*) FROM "User") AS users, (SELECT count(*) FROM "Organization") AS organizations, (SELECT count(*) FROM "Member") AS members`,
  );
  return { users: Number(counts!.users), organizations: Number(counts!.organizations), members: Number(counts!.members) };
}
