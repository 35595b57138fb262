// The change feed's catalogue: which audit actions are events of an organization's feed, and the
// type each one has in the API. One home: the writer (domain/audit.ts), the GraphQL enum and the
// subscriptions all read it.
export const EVENT_TYPES = {
  "organization.created": ["ORGANIZATION_CREATED", "The organization was created"],
  "organization.updated": ["ORGANIZATION_UPDATED", "Its name, slug, timezone, business information or metadata changed"],
  "organization.ownership_transferred": ["OWNERSHIP_TRANSFERRED", "Ownership moved to another member"],
  "member.added": ["MEMBER_ADDED", "A member was added (pending until they accept, for an address nobody holds yet)"],
  "member.accepted": ["MEMBER_ACCEPTED", "A pending member accepted the membership"],
  "member.declined": ["MEMBER_DECLINED", "A pending member declined the membership (it is gone)"],
  "member.merged": ["MEMBER_MERGED", "A pending membership was merged into the same person's own"],
  "member.role_changed": ["MEMBER_ROLE_CHANGED", "A member's role changed"],
  "member.updated": ["MEMBER_UPDATED", "A member's metadata or settings changed"],
  "member.locations_set": ["MEMBER_LOCATIONS_SET", "A member's locations and their roles there changed"],
  "member.suspended": ["MEMBER_SUSPENDED", "A member was suspended"],
  "member.reactivated": ["MEMBER_REACTIVATED", "A suspended member was reactivated"],
  "member.removed": ["MEMBER_REMOVED", "A member was removed"],
  "member.left": ["MEMBER_LEFT", "A member left the organization"],
  "invitation.created": ["INVITATION_CREATED", "An invitation was sent"],
  "invitation.resent": ["INVITATION_RESENT", "An invitation got a new secret and expiry"],
  "invitation.revoked": ["INVITATION_REVOKED", "An invitation was revoked"],
  "invitation.accepted": ["INVITATION_ACCEPTED", "An invitation was accepted (its member is in the event)"],
  "invitation.declined": ["INVITATION_DECLINED", "An invitation was declined"],
  "invitation.expired": ["INVITATION_EXPIRED", "An invitation was found expired when someone tried to use it"],
  "role.created": ["ROLE_CREATED", "A custom role was created"],
  "role.updated": ["ROLE_UPDATED", "A custom role changed"],
  "role.deleted": ["ROLE_DELETED", "A custom role was deleted"],
  "location.created": ["LOCATION_CREATED", "A location was created"],
  "location.updated": ["LOCATION_UPDATED", "A location changed"],
  "location.deleted": ["LOCATION_DELETED", "A location was deleted"],
} as const satisfies Record<string, readonly [string, string]>;

export type EventAction = keyof typeof EVENT_TYPES;
export type EventType = (typeof EVENT_TYPES)[EventAction][0];

export const isEventAction = (action: string): action is EventAction => Object.hasOwn(EVENT_TYPES, action);

/** The API type of an event's action. */
export const eventType = (action: EventAction): EventType => EVENT_TYPES[action][0];

/** The actions of the given API types (for a `types:` filter). */
export function actionsOf(types: readonly string[]): EventAction[] {
  const wanted = new Set(types);
  return (Object.keys(EVENT_TYPES) as EventAction[]).filter((action) => wanted.has(EVENT_TYPES[action][0]));
}
