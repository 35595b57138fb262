-- Data only: what was made before memberships had to be accepted (README, Security, "Membership
-- consent"). PENDING comes from the previous migration; PostgreSQL lets a new enum value be used
-- only after the transaction that added it has committed, hence a migration of its own.

-- 1. Placeholders: the accounts addMember made for an address nobody held (INVITED, never signed in).
UPDATE "User" SET "isPlaceholder" = true WHERE "status" = 'INVITED' AND "externalId" IS NULL;

-- 2. Their memberships wait for the person's answer like new ones: the organization sees only
--    the address, and nothing is granted until they accept.
UPDATE "Member" AS m
SET "status" = 'PENDING', "consented" = false, "pendingEmail" = u."email"
FROM "User" AS u
WHERE u."id" = m."userId" AND u."isPlaceholder";

-- 3. The owner role given to an existing account by addMember (consented = false) in an
--    organization where that person never did anything: pending too, so nobody owns an
--    organization they didn't accept. The address is the one the adder typed (its audit event).
UPDATE "Member" AS m
SET "status" = 'PENDING',
    "pendingEmail" = COALESCE(
      (SELECT a."after"->>'email' FROM "AuditEvent" AS a WHERE a."action" = 'member.added' AND a."targetId" = m."id"::text LIMIT 1),
      u."email")
FROM "User" AS u
WHERE u."id" = m."userId" AND m."consented" = false AND m."status" <> 'PENDING'
  AND m."roleId" = '00000000-0000-7000-8000-000000000001'
  AND NOT EXISTS (SELECT 1 FROM "AuditEvent" AS a WHERE a."organizationId"::text = m."organizationId"::text AND a."actorUserId"::text = m."userId"::text);

-- 4. A placeholder whose address another account has since verified gives way, as it now does
--    at verification: its memberships follow that person, still pending; then it is deleted.
UPDATE "Member" AS m
SET "userId" = e."userId"
FROM "User" AS p
JOIN "UserEmail" AS e ON e."verifiedEmail" = p."email" AND e."userId" <> p."id"
WHERE p."isPlaceholder" AND m."userId" = p."id"
  AND NOT EXISTS (
    SELECT 1 FROM "Member" AS x WHERE x."organizationId" = m."organizationId" AND x."userId" = e."userId" AND x."pendingEmail" = m."pendingEmail");

DELETE FROM "User" AS p
USING "UserEmail" AS e
WHERE p."isPlaceholder" AND e."verifiedEmail" = p."email" AND e."userId" <> p."id";

-- 5. The trail names the address an adder typed, never the account behind it.
UPDATE "AuditEvent" SET "after" = "after" - 'userId' WHERE "action" = 'member.added';
