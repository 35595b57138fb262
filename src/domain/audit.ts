// The audit trail: every successful change writes one AuditEvent in the same transaction.
import type { Prisma } from "../generated/prisma/client.js";
import type { Actor } from "./actor.js";

export interface AuditEntry {
  organizationId: string | null;
  action: string;
  targetType: string;
  targetId: string | null;
  before?: Prisma.InputJsonValue | null;
  after?: Prisma.InputJsonValue | null;
}

export async function recordAudit(tx: Prisma.TransactionClient, actor: Actor, entry: AuditEntry): Promise<void> {
  await tx.auditEvent.create({
    data: {
      organizationId: entry.organizationId,
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
}
