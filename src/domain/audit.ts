// The audit trail and the change feed: every successful change writes one AuditEvent in the same
// transaction, and a change to an organization (src/core/events.ts) also its next MembershipEvent.
import type { Prisma } from "../generated/prisma/client.js";
import { isEventAction } from "../core/events.js";
import { uuidv7 } from "../core/ids.js";
import type { Actor } from "./actor.js";

export interface AuditEntry {
  organizationId: string | null;
  action: string;
  targetType: string;
  targetId: string | null;
  before?: Prisma.InputJsonValue | null;
  after?: Prisma.InputJsonValue | null;
}

/** The channel a committed event is announced on (payload: "<organizationId>:<revision>"). */
export const EVENTS_CHANNEL = "membership_events";

const json = (value: Prisma.InputJsonValue | null | undefined) => (value === null || value === undefined ? null : JSON.stringify(value));

/**
 * Records a change. For an event of an organization's feed it is one statement: the audit row,
 * the organization's revision incremented (the row stays locked until commit, so revisions are
 * assigned in commit order without gaps; mutations lock the organization first, so none waits
 * here on another), the event, and a NOTIFY that PostgreSQL delivers only if the transaction
 * commits. Returns the event's revision (null when the change is not in a feed, or the
 * organization no longer exists), and tells `actor.revisions` about it.
 */
export async function recordAudit(tx: Prisma.TransactionClient, actor: Actor, entry: AuditEntry): Promise<number | null> {
  const organizationId = entry.organizationId;
  if (organizationId === null || !isEventAction(entry.action)) {
    await tx.auditEvent.create({
      data: {
        id: uuidv7(),
        organizationId,
        actorUserId: actor.userId,
        actorTokenId: actor.tokenId,
        action: entry.action,
        targetType: entry.targetType,
        targetId: entry.targetId,
        before: entry.before ?? undefined,
        after: entry.after ?? undefined,
        requestId: actor.requestId,
      },
    });
    return null;
  }
  const before = json(entry.before);
  const after = json(entry.after);
  const rows = await tx.$queryRaw<{ revision: number }[]>`
    WITH audit AS (
      INSERT INTO "AuditEvent" ("id", "organizationId", "actorUserId", "actorTokenId", "action", "targetType", "targetId", "before", "after", "requestId", "createdAt")
      VALUES (${uuidv7()}::uuid, ${organizationId}::uuid, ${actor.userId}::uuid, ${actor.tokenId}::uuid, ${entry.action}, ${entry.targetType}, ${entry.targetId},
              ${before}::jsonb, ${after}::jsonb, ${actor.requestId}, clock_timestamp() AT TIME ZONE 'UTC')
    ), bumped AS (
      UPDATE "Organization" SET "revision" = "revision" + 1 WHERE "id" = ${organizationId}::uuid RETURNING "revision"
    ), event AS (
      INSERT INTO "MembershipEvent" ("id", "organizationId", "revision", "action", "actorUserId", "subjectType", "subjectId", "before", "after", "occurredAt")
      SELECT ${uuidv7()}::uuid, ${organizationId}::uuid, bumped."revision", ${entry.action}, ${actor.userId}::uuid, ${entry.targetType}, ${entry.targetId},
             ${before}::jsonb, ${after}::jsonb, clock_timestamp() AT TIME ZONE 'UTC'
      FROM bumped RETURNING "revision"
    )
    SELECT event."revision" FROM event CROSS JOIN LATERAL (SELECT pg_notify(${EVENTS_CHANNEL}::text, ${organizationId}::text || ':' || event."revision")) AS notified`;
  const revision = rows[0]?.revision ?? null;
  if (revision !== null) actor.revisions?.set(organizationId, revision);
  return revision;
}
