// Webhook endpoints: registered, changed, rotated, paused, resumed and deleted by members holding
// webhooks:manage (and events:read: rules.organizationRules.manageWebhooks). Each change is one
// transaction that locks the organization, like every other change, and is audited; the secret is
// shown once and kept encrypted (webhook-secrets.ts). Delivery itself is src/webhooks/worker.ts.
import { createHash } from "node:crypto";
import { EVENT_TYPES } from "../core/events.js";
import { AppError, conflict, invalid, notFound } from "../core/errors.js";
import { enforce, organizationRules } from "../core/rules.js";
import { newWebhookSecret } from "../core/webhook-signatures.js";
import type { PrismaClient, WebhookDelivery, WebhookEndpoint } from "../generated/prisma/client.js";
import { actorAccess, lockOrganization, type ActorStanding, type Tx } from "./access.js";
import type { Actor } from "./actor.js";
import { recordAudit } from "./audit.js";
import { optionalText } from "./validate.js";
import { WebhookSecretBox } from "./webhook-secrets.js";
import type { WebhookConfig } from "../config.js";
import { checkWebhookUrl, type UrlRules } from "./webhook-urls.js";

/** What endpoint management needs from the configuration. */
export interface WebhookSettings {
  secrets: WebhookSecretBox;
  urls: UrlRules;
}

const settingsByConfig = new WeakMap<WebhookConfig, WebhookSettings>();

export function webhookSettings(config: WebhookConfig): WebhookSettings {
  let settings = settingsByConfig.get(config);
  if (!settings) settingsByConfig.set(config, (settings = { secrets: new WebhookSecretBox(config.secretKeys), urls: config }));
  return settings;
}

/** Told, on commit, of an organization whose endpoints have work (the workers listen; payload: the organization's id). */
export const WEBHOOKS_CHANNEL = "webhook_endpoints";

const announce = (tx: Tx, organizationId: string) => tx.$queryRaw`SELECT pg_notify(${WEBHOOKS_CHANNEL}::text, ${organizationId}::text)::text`;

const MAX_ENDPOINTS = 20;
/** After a rotation, the old secret signs beside the new one this long. */
const PREVIOUS_SECRET_HOURS = 24;

const EVENT_TYPE_NAMES = new Set<string>(Object.values(EVENT_TYPES).map(([name]) => name));

/** The event types an endpoint receives: known MembershipEventType names, each once, sorted (empty: every type). */
function eventTypesOf(types: readonly string[] | null | undefined): string[] {
  const unique = [...new Set(types ?? [])];
  const unknown = unique.find((type) => !EVENT_TYPE_NAMES.has(type));
  if (unknown) throw invalid("eventTypes", `"${unknown}" is not a MembershipEventType`);
  return unique.sort();
}

/**
 * The URL as the audit trail keeps it: its origin, and a digest of the rest instead of the path and
 * query, which may carry a receiver's own token (https://hooks.slack.com/services/T…/B…/secret).
 * The digest still tells one URL from another.
 */
const auditedUrl = (url: string) => {
  const parsed = new URL(url);
  const rest = `${parsed.pathname}${parsed.search}`;
  if (rest === "/") return `${parsed.origin}/`;
  return `${parsed.origin}/… (sha256:${createHash("sha256").update(rest).digest("hex").slice(0, 12)})`;
};

const snapshot = (endpoint: WebhookEndpoint) => ({
  url: auditedUrl(endpoint.url),
  eventTypes: endpoint.eventTypes,
  description: endpoint.description,
  enabled: endpoint.disabledAt === null,
});

/** Locks the organization and checks that the actor may manage its webhooks. */
async function manager(tx: Tx, actor: Actor, organizationId: string): Promise<ActorStanding> {
  await lockOrganization(tx, organizationId);
  const access = await actorAccess(tx, actor, organizationId);
  enforce(organizationRules.manageWebhooks(access.standing));
  return access;
}

/** The endpoint, read again under its organization's lock, with the actor's access checked. */
async function lockedEndpoint(tx: Tx, actor: Actor, endpointId: string): Promise<{ endpoint: WebhookEndpoint; access: ActorStanding }> {
  const first = await tx.webhookEndpoint.findUnique({ where: { id: endpointId }, select: { organizationId: true } });
  if (!first) throw notFound("Webhook endpoint");
  const access = await manager(tx, actor, first.organizationId);
  const endpoint = await tx.webhookEndpoint.findUnique({ where: { id: endpointId } });
  if (!endpoint) throw notFound("Webhook endpoint");
  return { endpoint, access };
}

/** What its payloads may show: the permissions of whoever (re)registered its URL, at that moment. */
const visibilityOf = (access: ActorStanding) => [...access.standing.permissions].sort();

/**
 * What the endpoint may be sent now: its visibility, narrowed to what the member who set its URL
 * holds now — or, when that member is no longer an active member who may read the feed, why it
 * may be sent nothing (the worker then disables it). Read by the worker at each claim.
 */
export async function currentVisibility(db: Tx, endpoint: WebhookEndpoint): Promise<{ visibility: string[] } | { refusal: string }> {
  const refusal = (why: string) => ({ refusal: `Disabled: the member who set its URL ${why}; a member who may manage webhooks can set its URL again and enable it` });
  if (!endpoint.registeredByUserId) return refusal("is unknown");
  let access: ActorStanding;
  try {
    access = await actorAccess(db, { userId: endpoint.registeredByUserId, tokenId: null, requestId: null }, endpoint.organizationId);
  } catch (error) {
    if (error instanceof AppError) return refusal("is no longer an active member");
    throw error;
  }
  if (!organizationRules.receiveWebhooks(access.standing).allowed) return refusal("may no longer read the change feed (events:read)");
  const held = access.standing.permissions as ReadonlySet<string>;
  return { visibility: endpoint.visibility.filter((permission) => held.has(permission)) };
}

export interface CreateWebhookEndpointInput {
  organizationId: string;
  url: string;
  eventTypes?: readonly string[] | null;
  description?: string | null;
}

/**
 * Registers an endpoint. It receives the events committed after this moment (the organization's
 * current revision is where it starts); the secret is returned now and never again.
 */
export async function createWebhookEndpoint(db: PrismaClient, actor: Actor, settings: WebhookSettings, input: CreateWebhookEndpointInput): Promise<{ endpoint: WebhookEndpoint; secret: string }> {
  const eventTypes = eventTypesOf(input.eventTypes);
  const description = optionalText(input.description, "description", 500) ?? null;
  const url = await checkWebhookUrl(input.url, settings.urls);
  const secret = newWebhookSecret();
  const sealed = settings.secrets.seal(secret);
  const endpoint = await db.$transaction(async (tx) => {
    const access = await manager(tx, actor, input.organizationId);
    if ((await tx.webhookEndpoint.count({ where: { organizationId: input.organizationId } })) >= MAX_ENDPOINTS) {
      throw conflict(`An organization can have at most ${MAX_ENDPOINTS} webhook endpoints`);
    }
    const { revision } = await tx.organization.findUniqueOrThrow({ where: { id: input.organizationId }, select: { revision: true } });
    const created = await tx.webhookEndpoint.create({
      data: {
        organizationId: input.organizationId,
        url: url.href,
        description,
        eventTypes,
        visibility: visibilityOf(access),
        createdByUserId: actor.userId,
        registeredByUserId: actor.userId,
        secret: sealed,
        deliveredRevision: revision,
      },
    });
    await recordAudit(tx, actor, { organizationId: input.organizationId, action: "webhook_endpoint.created", targetType: "WebhookEndpoint", targetId: created.id, after: snapshot(created) });
    await announce(tx, input.organizationId);
    return created;
  });
  return { endpoint, secret };
}

export interface UpdateWebhookEndpointInput {
  webhookEndpointId: string;
  url?: string | null;
  eventTypes?: readonly string[] | null;
  description?: string | null;
}

/**
 * Changes the URL, the event types (from the next event it has not settled) or the description.
 * A new URL is a new registration as far as payloads go: they show what the member who set it may
 * see (a delivery rendered before is rendered again if it showed more), and the event it waits on
 * is attempted now, with its failure streak forgotten.
 */
export async function updateWebhookEndpoint(db: PrismaClient, actor: Actor, settings: WebhookSettings, input: UpdateWebhookEndpointInput): Promise<WebhookEndpoint> {
  const url = input.url != null ? await checkWebhookUrl(input.url, settings.urls) : null;
  const eventTypes = input.eventTypes != null ? eventTypesOf(input.eventTypes) : undefined;
  const description = optionalText(input.description, "description", 500);
  return db.$transaction(async (tx) => {
    const { endpoint: before, access } = await lockedEndpoint(tx, actor, input.webhookEndpointId);
    const endpoint = await tx.webhookEndpoint.update({
      where: { id: before.id },
      data: {
        // A new URL ends any claim in progress (its next outcome is not recorded, so it sends
        // nothing more at the old standing) and the event it waits on is attempted at once.
        ...(url
          ? { url: url.href, visibility: visibilityOf(access), registeredByUserId: actor.userId, nextAttemptAt: null, failingSince: null, leaseOwner: null, leaseExpiresAt: null }
          : {}),
        ...(eventTypes ? { eventTypes } : {}),
        ...(description !== undefined ? { description } : {}),
      },
    });
    await recordAudit(tx, actor, {
      organizationId: endpoint.organizationId,
      action: "webhook_endpoint.updated",
      targetType: "WebhookEndpoint",
      targetId: endpoint.id,
      before: snapshot(before),
      after: snapshot(endpoint),
    });
    if (url) {
      await tx.webhookDelivery.updateMany({ where: { endpointId: endpoint.id, status: "PENDING" }, data: { nextAttemptAt: null } });
      await announce(tx, endpoint.organizationId);
    }
    return endpoint;
  });
}

/** A new secret, returned once; the old one keeps signing beside it for PREVIOUS_SECRET_HOURS (an older one stops now). */
export async function rotateWebhookSecret(db: PrismaClient, actor: Actor, settings: WebhookSettings, endpointId: string): Promise<{ endpoint: WebhookEndpoint; secret: string }> {
  const secret = newWebhookSecret();
  const sealed = settings.secrets.seal(secret);
  const endpoint = await db.$transaction(async (tx) => {
    const { endpoint: before } = await lockedEndpoint(tx, actor, endpointId);
    const previousSecretExpiresAt = new Date(Date.now() + PREVIOUS_SECRET_HOURS * 3_600_000);
    const rotated = await tx.webhookEndpoint.update({ where: { id: before.id }, data: { secret: sealed, previousSecret: before.secret, previousSecretExpiresAt } });
    await recordAudit(tx, actor, {
      organizationId: rotated.organizationId,
      action: "webhook_endpoint.secret_rotated",
      targetType: "WebhookEndpoint",
      targetId: rotated.id,
      after: { previousSecretExpiresAt: previousSecretExpiresAt.toISOString() },
    });
    return rotated;
  });
  return { endpoint, secret };
}

/** Pauses deliveries (idempotent): what it is owed waits, and is sent after enableWebhookEndpoint. */
export async function disableWebhookEndpoint(db: PrismaClient, actor: Actor, endpointId: string): Promise<WebhookEndpoint> {
  return db.$transaction(async (tx) => {
    const { endpoint } = await lockedEndpoint(tx, actor, endpointId);
    if (endpoint.disabledAt) return endpoint;
    const disabled = await tx.webhookEndpoint.update({ where: { id: endpoint.id }, data: { disabledAt: new Date(), disabledReason: "Disabled by a member (disableWebhookEndpoint)" } });
    await recordAudit(tx, actor, { organizationId: endpoint.organizationId, action: "webhook_endpoint.disabled", targetType: "WebhookEndpoint", targetId: endpoint.id, before: snapshot(endpoint), after: snapshot(disabled) });
    return disabled;
  });
}

/**
 * Resumes deliveries with the first event it has not settled, attempted now. Events pruned from
 * the feed while it was disabled (past EVENT_RETENTION_DAYS) can't be sent: they are skipped, and
 * `skippedEvents` (also in the audit event) says how many revisions that was.
 */
export async function enableWebhookEndpoint(db: PrismaClient, actor: Actor, endpointId: string): Promise<{ endpoint: WebhookEndpoint; skippedEvents: number }> {
  return db.$transaction(async (tx) => {
    const { endpoint } = await lockedEndpoint(tx, actor, endpointId);
    if (!endpoint.disabledAt) return { endpoint, skippedEvents: 0 };
    if ("refusal" in (await currentVisibility(tx, endpoint))) {
      throw new AppError("CONFLICT", "Its URL was set by a member who may no longer read the change feed: set its URL again (updateWebhookEndpoint), then enable it", { field: "webhookEndpointId" });
    }
    const [{ revision }, oldest, owed] = await Promise.all([
      tx.organization.findUniqueOrThrow({ where: { id: endpoint.organizationId }, select: { revision: true } }),
      tx.membershipEvent.findFirst({ where: { organizationId: endpoint.organizationId }, orderBy: { revision: "asc" }, select: { revision: true } }),
      // A delivery already made keeps its body: it can still be sent.
      tx.webhookDelivery.findFirst({ where: { endpointId: endpoint.id, status: "PENDING", revision: { gt: endpoint.deliveredRevision } }, orderBy: { revision: "asc" }, select: { revision: true } }),
    ]);
    const firstSendable = Math.min(owed?.revision ?? Number.POSITIVE_INFINITY, oldest?.revision ?? revision + 1);
    const deliveredRevision = Math.max(endpoint.deliveredRevision, firstSendable - 1);
    const skippedEvents = deliveredRevision - endpoint.deliveredRevision;
    const enabled = await tx.webhookEndpoint.update({
      where: { id: endpoint.id },
      data: { disabledAt: null, disabledReason: null, failingSince: null, nextAttemptAt: null, deliveredRevision },
    });
    await recordAudit(tx, actor, {
      organizationId: endpoint.organizationId,
      action: "webhook_endpoint.enabled",
      targetType: "WebhookEndpoint",
      targetId: endpoint.id,
      before: snapshot(endpoint),
      after: { ...snapshot(enabled), skippedEvents },
    });
    await announce(tx, endpoint.organizationId);
    return { endpoint: enabled, skippedEvents };
  });
}

/** Deletes the endpoint and its delivery log; nothing more is sent to it. */
export async function deleteWebhookEndpoint(db: PrismaClient, actor: Actor, endpointId: string): Promise<string> {
  return db.$transaction(async (tx) => {
    const { endpoint } = await lockedEndpoint(tx, actor, endpointId);
    await tx.webhookEndpoint.delete({ where: { id: endpoint.id } });
    await recordAudit(tx, actor, { organizationId: endpoint.organizationId, action: "webhook_endpoint.deleted", targetType: "WebhookEndpoint", targetId: endpoint.id, before: snapshot(endpoint) });
    return endpoint.id;
  });
}

/**
 * One more attempt at a delivery, soon, with the same body and webhook-id. For the event the
 * endpoint is waiting on, that is its next retry, now; for one already settled (delivered or
 * given up), a replay outside the revision order — receivers tell it by its webhook-id.
 */
export async function redeliverWebhook(db: PrismaClient, actor: Actor, deliveryId: string): Promise<WebhookDelivery> {
  return db.$transaction(async (tx) => {
    const first = await tx.webhookDelivery.findUnique({ where: { id: deliveryId }, select: { endpointId: true } });
    if (!first) throw notFound("Webhook delivery");
    const { endpoint } = await lockedEndpoint(tx, actor, first.endpointId);
    const delivery = await tx.webhookDelivery.findUnique({ where: { id: deliveryId } });
    if (!delivery) throw notFound("Webhook delivery");
    if (endpoint.disabledAt) throw new AppError("CONFLICT", "The endpoint is disabled: enable it first (enableWebhookEndpoint)", { field: "deliveryId" });
    let updated = delivery;
    if (delivery.revision > endpoint.deliveredRevision) {
      await tx.webhookEndpoint.update({ where: { id: endpoint.id }, data: { nextAttemptAt: null } });
      updated = await tx.webhookDelivery.update({ where: { id: delivery.id }, data: { nextAttemptAt: new Date() } });
    } else {
      updated = await tx.webhookDelivery.update({ where: { id: delivery.id }, data: { redeliver: true, nextAttemptAt: new Date() } });
    }
    await recordAudit(tx, actor, {
      organizationId: endpoint.organizationId,
      action: "webhook.redelivered",
      targetType: "WebhookDelivery",
      targetId: delivery.id,
      after: { endpointId: endpoint.id, revision: delivery.revision, status: delivery.status },
    });
    await announce(tx, endpoint.organizationId);
    return updated;
  });
}
