// The body of a delivery: { type, organizationId, revision, occurredAt, data }, where data is the
// MembershipEvent as the GraphQL API shows it, as of the event (its subject is the snapshot the
// event holds, not the row as it is now), to someone holding the permissions the endpoint was
// registered with (WebhookEndpoint.visibility): private metadata and people are redacted by the
// same rule as the API's (core/redaction.ts).
import { encodeGlobalID } from "@pothos/plugin-relay";
import { eventType, isEventAction } from "../core/events.js";
import { hidesActor, redactSnapshot, SEES_PEOPLE, snapshotNeeds } from "../core/redaction.js";
import { eventCursor } from "../db/queries/event-pages.js";
import type { MembershipEvent } from "../generated/prisma/client.js";

export interface PayloadReader {
  /** The permissions the endpoint's payloads are shown with. */
  visibility: readonly string[];
}

function redactedFor(reader: PayloadReader, subjectType: string, value: unknown): unknown {
  const needs = snapshotNeeds(value, subjectType);
  if (!needs) return value;
  return redactSnapshot(value, {
    privateMetadata: !needs.privateMetadata || reader.visibility.includes(needs.privateMetadata),
    people: !needs.people || reader.visibility.includes(SEES_PEOPLE),
  });
}

/** Whether the payload shows who made the change (then `actorEmail` is asked for). */
export const showsActor = (reader: PayloadReader, event: MembershipEvent) => !!event.actorUserId && !hidesActor(event) && reader.visibility.includes(SEES_PEOPLE);

/** The delivery's body, as sent on every attempt. `actorEmail`: the actor's primary email, when showsActor. */
export function webhookBody(event: MembershipEvent, reader: PayloadReader, actorEmail: string | null): string {
  const organizationId = encodeGlobalID("Organization", event.organizationId);
  const occurredAt = event.occurredAt.toISOString();
  // An action this version doesn't know (written by a newer one) is still sent, with a type spelled from it.
  const type = isEventAction(event.action) ? eventType(event.action) : event.action.toUpperCase().replace(/[^A-Z0-9]+/g, "_");
  return JSON.stringify({
    type: event.action,
    organizationId,
    revision: event.revision,
    occurredAt,
    data: {
      id: encodeGlobalID("MembershipEvent", event.id),
      revision: event.revision,
      cursor: eventCursor(event.organizationId, event.revision),
      type,
      action: event.action,
      occurredAt,
      organizationId,
      actor: showsActor(reader, event) ? { id: encodeGlobalID("User", event.actorUserId!), email: actorEmail } : null,
      subjectType: event.subjectType,
      subjectId: event.subjectId ? encodeGlobalID(event.subjectType, event.subjectId) : null,
      changes: { before: redactedFor(reader, event.subjectType, event.before), after: redactedFor(reader, event.subjectType, event.after) },
    },
  });
}
