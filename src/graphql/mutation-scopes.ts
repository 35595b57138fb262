// A mutation's auth scope: the global IDs it receives (decoded: global-id-args.ts) turned into
// the organization it acts on. After sign-in, an ID that is malformed or of another type
// is BAD_USER_INPUT (reading a RefusedGlobalId's id); one that is unknown, or belongs to an
// organization the caller is not an active member of, is NOT_FOUND — the same answer, so a
// probe learns nothing. Whether the caller's standing allows the change is decided by the rules
// in core/rules.ts, and a refusal carries their reason code (the same viewerCan reports). (The
// member a rule acts on is its TargetMember; here it is the organization a mutation acts on.)
import type { Permission } from "../core/permissions.js";
import type { StandingWithLocations } from "../auth/policy.js";
import { editableRole, enforce, explainOwnerless, need, type Decision } from "../core/rules.js";
import { notFound, unauthenticated } from "../core/errors.js";
import type { Context } from "./context.js";

export type TargetType = "Organization" | "Member" | "Role" | "Invitation" | "Location" | "WebhookEndpoint" | "WebhookDelivery";

/** A global-ID input as relay decodes it (global-id-args.ts). */
type GlobalId = { readonly id: string };

async function targetOrganizationId(context: Context, typename: TargetType, target: GlobalId): Promise<string> {
  if (!context.viewer) throw unauthenticated("Sign in first: send an Authorization: Bearer <token> header");
  const id = target.id;
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
    case "Location":
      organizationId = (await context.loaders.locationById.load(id))?.organizationId;
      break;
    case "WebhookEndpoint":
      organizationId = (await context.prisma.webhookEndpoint.findUnique({ where: { id }, select: { organizationId: true } }))?.organizationId;
      break;
    case "WebhookDelivery":
      organizationId = (await context.prisma.webhookDelivery.findUnique({ where: { id }, select: { organizationId: true } }))?.organizationId;
      break;
    case "Role": {
      const role = await context.loaders.roleById.load(id);
      if (role) enforce(editableRole(role));
      organizationId = role?.organizationId;
      break;
    }
  }
  if (!organizationId) throw notFound(typename);
  const standing = await context.policy.standing(organizationId);
  // Not a member: the same answer as an unknown ID. A suspended member is told so.
  if (standing.status === null) throw notFound(typename);
  return organizationId;
}

/** The auth scope of a mutation on one object: the caller needs `permission` in the object's organization. */
export async function permissionOn(context: Context, typename: TargetType, target: GlobalId, permission: Permission) {
  return ruleOn(context, typename, target, (standing) => need(standing, permission));
}

/** The auth scope of a mutation decided by a rule on the caller's standing (e.g. owners only). */
export async function ruleOn(
  context: Context,
  typename: TargetType,
  target: GlobalId,
  rule: (standing: StandingWithLocations) => Decision,
  /** Decide with the standing at this location (roles held there count). */
  locationId?: string | null,
) {
  const organizationId = await targetOrganizationId(context, typename, target);
  enforce(await explainedIn(context, organizationId, rule(await context.policy.standingAt(organizationId, locationId))));
  return { authenticated: true };
}

/**
 * The decision, an owner-only refusal told why nobody can do it while the organization has no
 * active owner (rules.explainOwnerless), as the mutations tell it. The owner count is loaded only
 * for such a refusal, through the per-request loader.
 */
export async function explainedIn(context: Context, organizationId: string, decision: Decision): Promise<Decision> {
  if (decision.allowed || decision.reason !== "OWNER_ONLY") return decision;
  return explainOwnerless(decision, await context.loaders.activeOwnerCount.load(organizationId));
}

/** explainedIn for every decision of a viewerCan object (at most one owner count, when one is owner-only). */
export async function allExplainedIn<Action extends string>(context: Context, organizationId: string, decisions: Record<Action, Decision>): Promise<Record<Action, Decision>> {
  const entries = Object.entries(decisions) as [Action, Decision][];
  if (!entries.some(([, decision]) => decision.reason === "OWNER_ONLY")) return decisions;
  const owners = await context.loaders.activeOwnerCount.load(organizationId);
  return Object.fromEntries(entries.map(([action, decision]) => [action, explainOwnerless(decision, owners)])) as Record<Action, Decision>;
}
