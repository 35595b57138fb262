// The permission catalogue: every permission a role can hold, and the built-in system roles.
// The system roles' rows are created by the first migration; a test keeps both in step.
export const PERMISSIONS = {
  "org:read": "See the organization's profile",
  "org:update": "Change the organization's name, slug, timezone, metadata",
  "org:delete": "Delete the organization",
  "members:read": "List members and see their public data",
  "members:create": "Add members",
  "members:update": "Change members' roles, metadata and status",
  "members:delete": "Remove members",
  "members:read_private": "See members' private metadata",
  "roles:read": "List roles and their permissions",
  "roles:create": "Create custom roles",
  "roles:update": "Edit custom roles",
  "roles:delete": "Delete custom roles",
  "invitations:read": "List the organization's invitations",
  "invitations:create": "Invite people",
  "invitations:delete": "Revoke invitations",
  "audit:read": "Read the audit trail",
  "events:read": "Read the change feed: Organization.events and the membershipEvents subscription",
  "locations:read": "List locations and who is assigned there",
  "locations:create": "Create locations",
  "locations:update": "Rename and edit locations",
  "locations:delete": "Delete locations",
  "webhooks:manage": "Register webhook endpoints, read their delivery log, redeliver: the change feed sent outside",
} as const;

export type Permission = keyof typeof PERMISSIONS;

export const ALL_PERMISSIONS = Object.keys(PERMISSIONS) as Permission[];

export function isPermission(value: string): value is Permission {
  return Object.hasOwn(PERMISSIONS, value);
}

export type SystemRoleKey = "owner" | "admin" | "member";

export const SYSTEM_ROLES: Record<SystemRoleKey, { id: string; permissions: Permission[] }> = {
  owner: { id: "00000000-0000-7000-8000-000000000001", permissions: ALL_PERMISSIONS },
  admin: {
    id: "00000000-0000-7000-8000-000000000002",
    // Deleting the organization and sending its feed to an outside URL stay with owners.
    permissions: ALL_PERMISSIONS.filter((permission) => permission !== "org:delete" && permission !== "webhooks:manage"),
  },
  member: { id: "00000000-0000-7000-8000-000000000003", permissions: ["org:read", "members:read", "roles:read", "locations:read"] },
};

export const OWNER_ROLE_ID = SYSTEM_ROLES.owner.id;

/** What a platform operator may read in any organization, for support (never write). */
export const OPERATOR_READ: Permission[] = ["org:read", "members:read", "roles:read", "invitations:read", "audit:read", "locations:read"];
