// Webhooks: an organization's endpoints (Organization.webhookEndpoints), each one's delivery log
// (WebhookEndpoint.deliveries) and the mutations that manage them. Everything here needs
// webhooks:manage in the endpoint's organization; changing anything also needs events:read
// (rules.organizationRules.manageWebhooks). Delivery is src/webhooks/worker.ts.
import { encodeGlobalID } from "@pothos/plugin-relay";
import { found } from "../../core/errors.js";
import { organizationRules } from "../../core/rules.js";
import {
  createWebhookEndpoint,
  deleteWebhookEndpoint,
  disableWebhookEndpoint,
  enableWebhookEndpoint,
  redeliverWebhook,
  rotateWebhookSecret,
  updateWebhookEndpoint,
  webhookSettings,
} from "../../domain/webhooks.js";
import { builder, PAGE_SIZES } from "../builder.js";
import type { Context } from "../context.js";
import { requireIdCursors } from "../cursors.js";
import { ruleOn } from "../mutation-scopes.js";
import { visibleNodes } from "../node-loading.js";
import { MembershipEventObject, MembershipEventTypeEnum } from "./membership-event.js";
import { OrganizationNode } from "./organization.js";

const manages = (organizationId: string) => ({ orgPermission: { organizationId, permission: "webhooks:manage" as const } });

const WebhookDeliveryStatus = builder.enumType("WebhookDeliveryStatus", {
  values: {
    PENDING: { description: "Not delivered yet: being attempted, or waiting for its next retry (nextAttemptAt)" },
    SUCCEEDED: { description: "The endpoint answered 2xx within the timeout" },
    FAILED: { description: "Every attempt of the retry schedule failed: given up (redeliverWebhook tries once more)" },
  } as const,
});

const WebhookDeliveryNode = builder.prismaNode("WebhookDelivery", {
  id: { field: "id" },
  nullable: true,
  description: "One event sent (or owed) to one endpoint: the same body and webhook-id on every attempt",
  authScopes: (delivery) => manages(delivery.organizationId),
  ...visibleNodes("WebhookDelivery", (context) => ({ endpoint: { organization: context.policy.organizationsWhere("webhooks:manage") } })),
  fields: (t) => ({
    webhookId: t.string({
      description: "The webhook-id header it is sent with: the event's global ID (MembershipEvent.id), for receivers to drop repeats",
      resolve: (delivery) => encodeGlobalID("MembershipEvent", delivery.eventId),
    }),
    revision: t.exposeInt("revision", { description: "The event's revision in the organization's change feed" }),
    action: t.exposeString("action", { description: 'The event\'s action, e.g. "member.added": the body\'s `type`' }),
    event: t.field({
      type: MembershipEventObject,
      nullable: true,
      description: "The event, while the feed keeps it (EVENT_RETENTION_DAYS) and you may read it (events:read)",
      resolve: (delivery, _args, context) => context.prisma.membershipEvent.findUnique({ where: { id: delivery.eventId } }),
    }),
    status: t.field({ type: WebhookDeliveryStatus, resolve: (delivery) => delivery.status as "PENDING" | "SUCCEEDED" | "FAILED" }),
    attemptCount: t.exposeInt("attempts", { description: "Attempts made so far" }),
    lastAttemptAt: t.expose("lastAttemptAt", { type: "DateTime", nullable: true }),
    lastResponseStatus: t.exposeInt("lastResponseStatus", { nullable: true, description: "The HTTP status of the last answer; null when none came (refused, unreachable, timed out)" }),
    lastResponseBody: t.exposeString("lastResponseBody", { nullable: true, description: "The first 1,024 characters of the last answer's body (at most 4 KB is read)" }),
    lastError: t.exposeString("lastError", { nullable: true, description: "Why the last attempt failed, e.g. a status, a timeout, or an address refused; null when it succeeded" }),
    lastDurationMs: t.exposeInt("lastDurationMs", { nullable: true }),
    nextAttemptAt: t.expose("nextAttemptAt", { type: "DateTime", nullable: true, description: "When it is tried again; null when settled" }),
    redeliveryRequested: t.exposeBoolean("redeliver", { description: "redeliverWebhook asked for another attempt, not made yet" }),
    createdAt: t.expose("createdAt", { type: "DateTime", description: "When it was first attempted" }),
    endpoint: t.relation("endpoint"),
  }),
});

const WebhookEndpointNode = builder.prismaNode("WebhookEndpoint", {
  id: { field: "id" },
  nullable: true,
  description: "A URL that receives the organization's change feed, signed (Standard Webhooks), in revision order. Needs webhooks:manage",
  authScopes: (endpoint) => manages(endpoint.organizationId),
  ...visibleNodes("WebhookEndpoint", (context) => ({ organization: context.policy.organizationsWhere("webhooks:manage") })),
  fields: (t) => ({
    url: t.exposeString("url"),
    description: t.exposeString("description", { nullable: true }),
    eventTypes: t.field({
      type: [MembershipEventTypeEnum],
      description: "The event types it receives; empty: every type",
      resolve: (endpoint) => endpoint.eventTypes as never,
    }),
    enabled: t.boolean({ resolve: (endpoint) => endpoint.disabledAt === null }),
    disabledAt: t.expose("disabledAt", { type: "DateTime", nullable: true }),
    disabledReason: t.exposeString("disabledReason", { nullable: true, description: "Who or what disabled it: a member, or failing for WEBHOOK_DISABLE_AFTER (5 days by default)" }),
    failingSince: t.expose("failingSince", { type: "DateTime", nullable: true, description: "The first failed attempt since its last success; null while it succeeds" }),
    deliveredRevision: t.exposeInt("deliveredRevision", { description: "The revision of the last event it is done with (delivered or given up); the next one sent comes after it" }),
    nextAttemptAt: t.expose("nextAttemptAt", { type: "DateTime", nullable: true, description: "When the event it waits on is tried again; null: as soon as there is one" }),
    previousSecretExpiresAt: t.expose("previousSecretExpiresAt", {
      type: "DateTime",
      nullable: true,
      description: "After rotateWebhookSecret: until then, deliveries are signed with the old secret too",
    }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    updatedAt: t.expose("updatedAt", { type: "DateTime" }),
    organization: t.field({
      type: OrganizationNode,
      resolve: async (endpoint, _args, context) => found(await context.loaders.organizationById.load(endpoint.organizationId), "Organization"),
    }),
    deliveries: t.relatedConnection("deliveries", {
      cursor: "id",
      ...PAGE_SIZES,
      totalCount: true,
      description: "The delivery log, newest event first",
      args: { status: t.arg({ type: WebhookDeliveryStatus, required: false, description: "Only deliveries in this state" }) },
      query: (args) => {
        requireIdCursors(args);
        return { where: args.status ? { status: args.status } : {}, orderBy: [{ revision: "desc" }] };
      },
    }),
  }),
});

builder.prismaObjectField("Organization", "webhookEndpoints", (t) =>
  t.relatedConnection("webhooks", {
    cursor: "id",
    ...PAGE_SIZES,
    totalCount: true,
    description: "Where the organization's change feed is pushed, oldest first. Needs webhooks:manage",
    authScopes: (organization) => manages(organization.id),
    query: (args) => {
      requireIdCursors(args);
      return { orderBy: [{ createdAt: "asc" }, { id: "asc" }] };
    },
  }),
);

// ---- Mutations ----------------------------------------------------------------------------------

const settingsOf = (context: Context) => webhookSettings(context.config.webhooks);

type Types = typeof builder extends PothosSchemaTypes.SchemaBuilder<infer T> ? T : never;

/** A payload's webhookEndpoint field: the endpoint as it is after the change. */
const endpointField = (t: PothosSchemaTypes.ObjectFieldBuilder<Types, { endpointId: string }>) =>
  t.prismaField({
    type: "WebhookEndpoint",
    resolve: async (query, payload, _args, context) => found(await context.prisma.webhookEndpoint.findUnique({ ...query, where: { id: payload.endpointId } }), "WebhookEndpoint"),
  });

const WithSecretPayload = (name: string) =>
  builder.objectRef<{ endpointId: string; secret: string }>(name).implement({
    fields: (t) => ({
      webhookEndpoint: endpointField(t),
      secret: t.string({
        description: "The signing secret (whsec_…), shown only now: verify deliveries with it (README, Webhooks)",
        resolve: (payload) => payload.secret,
      }),
    }),
  });

const EndpointPayload = (name: string) => builder.objectRef<{ endpointId: string }>(name).implement({ fields: (t) => ({ webhookEndpoint: endpointField(t) }) });

const EndpointInput = (name: string) =>
  builder.inputType(name, { fields: (t) => ({ webhookEndpointId: t.globalID({ for: WebhookEndpointNode, required: true }) }) });

/** The auth scope of a mutation on an endpoint (or a delivery's endpoint): manageWebhooks in its organization. */
const onEndpoint = (context: Context, id: { id: string }) => ruleOn(context, "WebhookEndpoint", id, organizationRules.manageWebhooks);

const CreateWebhookEndpointInput = builder.inputType("CreateWebhookEndpointInput", {
  fields: (t) => ({
    organizationId: t.globalID({ for: OrganizationNode, required: true }),
    url: t.string({ required: true, description: "https:// (http:// only for WEBHOOK_ALLOW_HTTP_HOSTS); not a private address unless WEBHOOK_ALLOW_PRIVATE_HOSTS lists its host" }),
    eventTypes: t.field({ type: [MembershipEventTypeEnum], required: false, description: "Only these event types; none or empty: every type" }),
    description: t.string({ required: false, description: "Up to 500 characters" }),
  }),
});

builder.mutationField("createWebhookEndpoint", (t) =>
  t.field({
    type: WithSecretPayload("CreateWebhookEndpointPayload"),
    description:
      "Registers an endpoint for the events committed from now on. Returns its signing secret, once. Its payloads show what you may see now (private metadata, people). Needs webhooks:manage and events:read",
    args: { input: t.arg({ type: CreateWebhookEndpointInput, required: true }) },
    authScopes: (_root, { input }, context) => ruleOn(context, "Organization", input.organizationId, organizationRules.manageWebhooks),
    resolve: async (_root, { input }, context) => {
      const { endpoint, secret } = await createWebhookEndpoint(context.prisma, context.actor(), settingsOf(context), {
        organizationId: input.organizationId.id,
        url: input.url,
        eventTypes: input.eventTypes,
        description: input.description,
      });
      return { endpointId: endpoint.id, secret };
    },
  }),
);

const UpdateWebhookEndpointInput = builder.inputType("UpdateWebhookEndpointInput", {
  fields: (t) => ({
    webhookEndpointId: t.globalID({ for: WebhookEndpointNode, required: true }),
    url: t.string({ required: false, description: "A new URL: its payloads then show what you may see" }),
    eventTypes: t.field({ type: [MembershipEventTypeEnum], required: false, description: "From the next event it has not settled; empty: every type" }),
    description: t.string({ required: false, description: "null or empty clears it" }),
  }),
});

builder.mutationField("updateWebhookEndpoint", (t) =>
  t.field({
    type: EndpointPayload("UpdateWebhookEndpointPayload"),
    description: "Changes an endpoint's URL, event types or description. Needs webhooks:manage and events:read",
    args: { input: t.arg({ type: UpdateWebhookEndpointInput, required: true }) },
    authScopes: (_root, { input }, context) => onEndpoint(context, input.webhookEndpointId),
    resolve: async (_root, { input }, context) => {
      const endpoint = await updateWebhookEndpoint(context.prisma, context.actor(), settingsOf(context), {
        webhookEndpointId: input.webhookEndpointId.id,
        url: input.url,
        eventTypes: input.eventTypes,
        description: input.description,
      });
      return { endpointId: endpoint.id };
    },
  }),
);

builder.mutationField("rotateWebhookSecret", (t) =>
  t.field({
    type: WithSecretPayload("RotateWebhookSecretPayload"),
    description: "A new signing secret, returned once; for 24 hours deliveries carry a signature by the old one too, so receivers can switch. Needs webhooks:manage and events:read",
    args: { input: t.arg({ type: EndpointInput("RotateWebhookSecretInput"), required: true }) },
    authScopes: (_root, { input }, context) => onEndpoint(context, input.webhookEndpointId),
    resolve: async (_root, { input }, context) => {
      const { endpoint, secret } = await rotateWebhookSecret(context.prisma, context.actor(), settingsOf(context), input.webhookEndpointId.id);
      return { endpointId: endpoint.id, secret };
    },
  }),
);

builder.mutationField("disableWebhookEndpoint", (t) =>
  t.field({
    type: EndpointPayload("DisableWebhookEndpointPayload"),
    description: "Pauses deliveries; what it is owed waits for enableWebhookEndpoint. Needs webhooks:manage and events:read",
    args: { input: t.arg({ type: EndpointInput("DisableWebhookEndpointInput"), required: true }) },
    authScopes: (_root, { input }, context) => onEndpoint(context, input.webhookEndpointId),
    resolve: async (_root, { input }, context) => ({ endpointId: (await disableWebhookEndpoint(context.prisma, context.actor(), input.webhookEndpointId.id)).id }),
  }),
);

const EnableWebhookEndpointPayload = builder.objectRef<{ endpointId: string; skippedEvents: number }>("EnableWebhookEndpointPayload").implement({
  fields: (t) => ({
    webhookEndpoint: endpointField(t),
    skippedEvents: t.int({
      description: "Revisions it can't be sent because the feed pruned them while it was disabled (EVENT_RETENTION_DAYS); 0 normally",
      resolve: (payload) => payload.skippedEvents,
    }),
  }),
});

builder.mutationField("enableWebhookEndpoint", (t) =>
  t.field({
    type: EnableWebhookEndpointPayload,
    description: "Resumes deliveries (also after it was disabled for failing) with the first event it has not settled, now. Needs webhooks:manage and events:read",
    args: { input: t.arg({ type: EndpointInput("EnableWebhookEndpointInput"), required: true }) },
    authScopes: (_root, { input }, context) => onEndpoint(context, input.webhookEndpointId),
    resolve: async (_root, { input }, context) => {
      const { endpoint, skippedEvents } = await enableWebhookEndpoint(context.prisma, context.actor(), input.webhookEndpointId.id);
      return { endpointId: endpoint.id, skippedEvents };
    },
  }),
);

const DeleteWebhookEndpointPayload = builder.objectRef<{ deletedWebhookEndpointId: string }>("DeleteWebhookEndpointPayload").implement({
  fields: (t) => ({ deletedWebhookEndpointId: t.id({ resolve: (payload) => encodeGlobalID("WebhookEndpoint", payload.deletedWebhookEndpointId) }) }),
});

builder.mutationField("deleteWebhookEndpoint", (t) =>
  t.field({
    type: DeleteWebhookEndpointPayload,
    description: "Deletes an endpoint and its delivery log. Needs webhooks:manage and events:read",
    args: { input: t.arg({ type: EndpointInput("DeleteWebhookEndpointInput"), required: true }) },
    authScopes: (_root, { input }, context) => onEndpoint(context, input.webhookEndpointId),
    resolve: async (_root, { input }, context) => ({ deletedWebhookEndpointId: await deleteWebhookEndpoint(context.prisma, context.actor(), input.webhookEndpointId.id) }),
  }),
);

const RedeliverWebhookInput = builder.inputType("RedeliverWebhookInput", {
  fields: (t) => ({ deliveryId: t.globalID({ for: WebhookDeliveryNode, required: true }) }),
});

const RedeliverWebhookPayload = builder.objectRef<{ deliveryId: string }>("RedeliverWebhookPayload").implement({
  fields: (t) => ({
    delivery: t.prismaField({
      type: "WebhookDelivery",
      resolve: async (query, payload, _args, context) => found(await context.prisma.webhookDelivery.findUnique({ ...query, where: { id: payload.deliveryId } }), "WebhookDelivery"),
    }),
  }),
});

builder.mutationField("redeliverWebhook", (t) =>
  t.field({
    type: RedeliverWebhookPayload,
    description:
      "One more attempt at a delivery, within a second, with the same body and webhook-id: the retry now, for the event the endpoint waits on; a replay, for one already delivered or given up. Needs webhooks:manage and events:read",
    args: { input: t.arg({ type: RedeliverWebhookInput, required: true }) },
    authScopes: (_root, { input }, context) => ruleOn(context, "WebhookDelivery", input.deliveryId, organizationRules.manageWebhooks),
    resolve: async (_root, { input }, context) => ({ deliveryId: (await redeliverWebhook(context.prisma, context.actor(), input.deliveryId.id)).id }),
  }),
);
