-- Webhooks: endpoints that receive an organization's change feed, and the log of what each was sent
-- (delivered by src/webhooks/worker.ts, in revision order per endpoint).

-- CreateTable
CREATE TABLE "WebhookEndpoint" (
    "id" UUID NOT NULL,
    "organizationId" UUID NOT NULL,
    "url" TEXT NOT NULL,
    "description" TEXT,
    "eventTypes" TEXT[],
    "visibility" TEXT[],
    "createdByUserId" UUID,
    "registeredByUserId" UUID,
    "secret" TEXT NOT NULL,
    "previousSecret" TEXT,
    "previousSecretExpiresAt" TIMESTAMP(3),
    "deliveredRevision" INTEGER NOT NULL,
    "nextAttemptAt" TIMESTAMP(3),
    "failingSince" TIMESTAMP(3),
    "disabledAt" TIMESTAMP(3),
    "disabledReason" TEXT,
    "leaseOwner" TEXT,
    "leaseExpiresAt" TIMESTAMP(3),
    "lastClaimedAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "WebhookEndpoint_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "WebhookDelivery" (
    "id" UUID NOT NULL,
    "endpointId" UUID NOT NULL,
    "organizationId" UUID NOT NULL,
    "eventId" UUID NOT NULL,
    "revision" INTEGER NOT NULL,
    "action" TEXT NOT NULL,
    "payload" TEXT NOT NULL,
    "visibility" TEXT[],
    "status" TEXT NOT NULL DEFAULT 'PENDING',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "lastAttemptAt" TIMESTAMP(3),
    "lastResponseStatus" INTEGER,
    "lastResponseBody" TEXT,
    "lastError" TEXT,
    "lastDurationMs" INTEGER,
    "nextAttemptAt" TIMESTAMP(3),
    "redeliver" BOOLEAN NOT NULL DEFAULT false,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "WebhookDelivery_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "WebhookEndpoint_organizationId_createdAt_id_idx" ON "WebhookEndpoint"("organizationId", "createdAt", "id");

-- CreateIndex
CREATE INDEX "WebhookEndpoint_nextAttemptAt_idx" ON "WebhookEndpoint"("nextAttemptAt");

-- CreateIndex
CREATE INDEX "WebhookDelivery_endpointId_redeliver_idx" ON "WebhookDelivery"("endpointId", "redeliver");

-- CreateIndex
CREATE UNIQUE INDEX "WebhookDelivery_endpointId_revision_key" ON "WebhookDelivery"("endpointId", "revision");

-- AddForeignKey
ALTER TABLE "WebhookEndpoint" ADD CONSTRAINT "WebhookEndpoint_organizationId_fkey" FOREIGN KEY ("organizationId") REFERENCES "Organization"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "WebhookDelivery" ADD CONSTRAINT "WebhookDelivery_endpointId_fkey" FOREIGN KEY ("endpointId") REFERENCES "WebhookEndpoint"("id") ON DELETE CASCADE ON UPDATE CASCADE;


-- webhooks:manage, new in the catalogue, goes to the owner role only (it sends the feed outside).
UPDATE "Role" SET "permissions" = "permissions" || ARRAY['webhooks:manage'], "updatedAt" = CURRENT_TIMESTAMP
WHERE "id" = '00000000-0000-7000-8000-000000000001' AND NOT ('webhooks:manage' = ANY ("permissions"));
