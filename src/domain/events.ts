// Change-feed retention: events older than EVENT_RETENTION_DAYS are deleted in the background, a
// batch at a time so no statement holds many rows. Events an enabled webhook endpoint is still
// owed are kept until it has them (a disabled one skips what was pruned: domain/webhooks.ts). Readers notice the gap by the oldest revision
// kept (db/queries/event-pages.ts) and refuse older cursors with CURSOR_EXPIRED.
import type { PrismaClient } from "../generated/prisma/client.js";

const BATCH = 5_000;

/** Deletes settled webhook deliveries (the log) older than `days` days, as pruneEvents does events; returns how many. */
export async function pruneWebhookDeliveries(db: PrismaClient, days: number, now = new Date()): Promise<number> {
  const cutoff = new Date(now.getTime() - days * 86_400_000);
  let total = 0;
  for (;;) {
    const deleted = await db.$executeRaw`
      DELETE FROM "WebhookDelivery" WHERE "id" IN (
        SELECT "id" FROM "WebhookDelivery" WHERE "updatedAt" < ${cutoff} AND "status" <> 'PENDING' AND NOT "redeliver" LIMIT ${BATCH})`;
    total += deleted;
    if (deleted < BATCH) return total;
  }
}

/** Deletes events older than `days` days; returns how many. */
export async function pruneEvents(db: PrismaClient, days: number, now = new Date()): Promise<number> {
  const cutoff = new Date(now.getTime() - days * 86_400_000);
  let total = 0;
  for (;;) {
    const deleted = await db.$executeRaw`
      DELETE FROM "MembershipEvent" WHERE "id" IN (
        SELECT m."id" FROM "MembershipEvent" m WHERE m."occurredAt" < ${cutoff}
          AND NOT EXISTS (SELECT 1 FROM "WebhookEndpoint" w WHERE w."organizationId" = m."organizationId" AND w."disabledAt" IS NULL AND w."deliveredRevision" < m."revision")
        LIMIT ${BATCH})`;
    total += deleted;
    if (deleted < BATCH) return total;
  }
}
