-- The change feed: Organization.revision (the latest event's number) and one MembershipEvent per
-- committed change to an organization (written by src/domain/audit.ts in the change's transaction).

-- AlterTable
ALTER TABLE "Organization" ADD COLUMN     "revision" INTEGER NOT NULL DEFAULT 0;

-- CreateTable
CREATE TABLE "MembershipEvent" (
    "id" UUID NOT NULL,
    "organizationId" UUID NOT NULL,
    "revision" INTEGER NOT NULL,
    "action" TEXT NOT NULL,
    "actorUserId" UUID,
    "subjectType" TEXT NOT NULL,
    "subjectId" TEXT,
    "before" JSONB,
    "after" JSONB,
    "occurredAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "MembershipEvent_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "MembershipEvent_occurredAt_idx" ON "MembershipEvent"("occurredAt");

-- CreateIndex
CREATE UNIQUE INDEX "MembershipEvent_organizationId_revision_key" ON "MembershipEvent"("organizationId", "revision");

-- AddForeignKey
ALTER TABLE "MembershipEvent" ADD CONSTRAINT "MembershipEvent_organizationId_fkey" FOREIGN KEY ("organizationId") REFERENCES "Organization"("id") ON DELETE CASCADE ON UPDATE CASCADE;


-- Existing organizations start their feed at revision 0 (their history is in the audit trail).
-- events:read, new in the catalogue, goes to the system roles that hold everything else: owner and admin.
UPDATE "Role" SET "permissions" = "permissions" || ARRAY['events:read'], "updatedAt" = CURRENT_TIMESTAMP
WHERE "id" IN ('00000000-0000-7000-8000-000000000001', '00000000-0000-7000-8000-000000000002') AND NOT ('events:read' = ANY ("permissions"));
