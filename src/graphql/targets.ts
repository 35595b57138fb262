// Turns the global IDs a mutation receives into the organization the mutation acts on, for its
// auth scope. An ID that is malformed is BAD_USER_INPUT; one that is unknown, or belongs to an
// organization the caller is not an active member of, is NOT_FOUND — the same answer, so a
// probe learns nothing. Whether the caller's role allows the change is the scope's business.
import type { Permission } from "../auth/permissions.js";
import { forbidden, notFound, unauthenticated } from "../domain/errors.js";
import type { Context } from "./context.js";
import { parseGlobalId } from "./types/common.js";

export type TargetType = "Organization" | "Member" | "Role" | "Invitation";

export async function targetOrganizationId(context: Context, typename: TargetType, globalId: string | number, field: string): Promise<string> {
  if (!context.viewer) throw unauthenticated("Sign in first: send an Authorization: Bearer <token> header");
  const id = parseGlobalId(String(globalId), typename, field);
  let organizationId: string | null | undefined;
  switch (typename) {
    case "Organization":
      organizationId = id;
      break;
    case "Member":
      organizationId = (await context.loaders.memberById.load(id))?.organizationId;
      break;
    case "Invitation":
      organizationId = (await context.loaders.invitationById.load(id))?.organizationId;
      break;
    case "Role": {
      const role = await context.loaders.roleById.load(id);
      if (role && role.organizationId === null) throw forbidden("System roles can't be changed or deleted");
      organizationId = role?.organizationId;
      break;
    }
  }
  if (!organizationId || !(await context.policy.isActiveMember(organizationId))) throw notFound(typename);
  return organizationId;
}

/** The auth scope of a mutation on one object: the caller needs `permission` in the object's organization. */
export async function permissionOn(
  context: Context,
  typename: TargetType,
  globalId: string | number,
  field: string,
  permission: Permission,
) {
  const organizationId = await targetOrganizationId(context, typename, globalId, field);
  return { orgPermission: { organizationId, permission } };
}
