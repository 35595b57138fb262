// What a reader of the audit trail or the change feed may see of a change's snapshots and of who
// made it. One home for the rule: GraphQL (graphql/types/audit-event.ts) applies it with the
// reader's permissions now, webhooks (webhooks/payloads.ts) with those their creator registered with.
import type { Permission } from "./permissions.js";

/** Snapshot keys that say who a person is: shown only to holders of members:read. */
const PERSON_KEYS = ["email", "userId", "ownerUserId", "phoneNumber"];

const REDACTED = "[redacted]";

/** The permission that shows people (their email, user ids) in snapshots and actors. */
export const SEES_PEOPLE: Permission = "members:read";

type Snapshot = Record<string, unknown>;

const isSnapshot = (value: unknown): value is Snapshot => !!value && typeof value === "object" && !Array.isArray(value);

/**
 * What showing this snapshot in full needs beyond reading the feed or trail: the permission its
 * private metadata needs (members:read_private for a member's, org:update for the organization's
 * own), and whether it names people. Null when it needs nothing more.
 */
export function snapshotNeeds(value: unknown, targetType: string): { privateMetadata: Permission | null; people: boolean } | null {
  if (!isSnapshot(value)) return null;
  const privateMetadata = "privateMetadata" in value ? (targetType === "Organization" ? "org:update" : "members:read_private") : null;
  const people = PERSON_KEYS.some((key) => key in value);
  return privateMetadata || people ? { privateMetadata, people } : null;
}

/** The snapshot with what the reader may not see replaced by "[redacted]". */
export function redactSnapshot(value: unknown, allowed: { privateMetadata: boolean; people: boolean }): unknown {
  if (!isSnapshot(value)) return value;
  let result = value;
  if ("privateMetadata" in result && !allowed.privateMetadata) result = { ...result, privateMetadata: REDACTED };
  if (!allowed.people && PERSON_KEYS.some((key) => key in result)) {
    result = { ...result };
    for (const key of PERSON_KEYS) if (key in result) result[key] = REDACTED;
  }
  return result;
}

/** Events whose actor answered as an address (an invitation, a membership they never accepted): that address is all the organization knew of them. */
export const ANSWERED_AS_ADDRESS = new Set(["invitation.declined", "member.declined"]);

/**
 * Events whose actor the organization doesn't get to see: an operator reading it from outside,
 * and someone who declined (their account, or their token's time-ordered id, would tie the
 * address to it).
 */
export const hidesActor = (event: { action: string }) => event.action.startsWith("operator.") || ANSWERED_AS_ADDRESS.has(event.action);
