// ApiToken: a personal access token, as its owner sees it — never the secret, which is shown
// once, by createApiToken.
import { found } from "../../core/errors.js";
import { createApiToken, revokeApiToken } from "../../domain/api-tokens.js";
import { builder, PAGE_SIZES } from "../builder.js";
import { requireIdCursors } from "../cursors.js";
import { asUuid } from "../common.js";
import { visibleNodes } from "../node-loading.js";

const ApiTokenNode = builder.prismaNode("ApiToken", {
  id: { field: "id" },
  nullable: true,
  authScopes: (token) => ({ self: token.userId }),
  ...visibleNodes("ApiToken", (context) => ({ userId: context.viewer?.user.id ?? asUuid("") })),
  fields: (t) => ({
    name: t.exposeString("name"),
    prefix: t.exposeString("prefix", { description: "The first characters of the secret, to tell tokens apart" }),
    lastUsedAt: t.expose("lastUsedAt", { type: "DateTime", nullable: true, description: "Updated at most once a minute" }),
    expiresAt: t.expose("expiresAt", { type: "DateTime", nullable: true }),
    revokedAt: t.expose("revokedAt", { type: "DateTime", nullable: true }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    isActive: t.boolean({
      description: "Not revoked and not expired",
      resolve: (token) => !token.revokedAt && (!token.expiresAt || token.expiresAt > new Date()),
    }),
  }),
});

builder.prismaObjectField("User", "apiTokens", (t) =>
  t.relatedConnection("apiTokens", {
    cursor: "id",
    ...PAGE_SIZES,
    totalCount: true,
    description: "This user's access tokens, newest first. Only the user themselves can list them.",
    authScopes: (user) => ({ self: user.id }),
    query: (args) => {
      requireIdCursors(args);
      return { orderBy: [{ createdAt: "desc" }, { id: "desc" }] };
    },
  }),
);

const CreateApiTokenInput = builder.inputType("CreateApiTokenInput", {
  fields: (t) => ({
    name: t.string({ required: true }),
    expiresInDays: t.int({ required: false, description: "1-3650; no expiry when absent" }),
  }),
});

const CreateApiTokenPayload = builder.objectRef<{ apiTokenId: string; token: string }>("CreateApiTokenPayload").implement({
  fields: (t) => ({
    apiToken: t.prismaField({
      type: "ApiToken",
      resolve: async (query, payload, _args, context) => found(await context.prisma.apiToken.findUnique({ ...query, where: { id: payload.apiTokenId } }), "ApiToken"),
    }),
    token: t.string({ description: "The secret, shown only now", resolve: (payload) => payload.token }),
  }),
});

builder.mutationField("createApiToken", (t) =>
  t.field({
    type: CreateApiTokenPayload,
    description: "Creates a personal access token for yourself.",
    args: { input: t.arg({ type: CreateApiTokenInput, required: true }) },
    authScopes: { authenticated: true },
    resolve: async (_root, { input }, context) => {
      const actor = context.actor();
      const { apiToken, token } = await createApiToken(context.prisma, actor.userId, input, actor);
      return { apiTokenId: apiToken.id, token };
    },
  }),
);

const RevokeApiTokenInput = builder.inputType("RevokeApiTokenInput", {
  fields: (t) => ({ apiTokenId: t.globalID({ for: ApiTokenNode, required: true }) }),
});

const RevokeApiTokenPayload = builder.objectRef<{ apiTokenId: string }>("RevokeApiTokenPayload").implement({
  fields: (t) => ({
    apiToken: t.prismaField({
      type: "ApiToken",
      resolve: async (query, payload, _args, context) => found(await context.prisma.apiToken.findUnique({ ...query, where: { id: payload.apiTokenId } }), "ApiToken"),
    }),
  }),
});

builder.mutationField("revokeApiToken", (t) =>
  t.field({
    type: RevokeApiTokenPayload,
    description: "Revokes one of your tokens (it stops working at once).",
    args: { input: t.arg({ type: RevokeApiTokenInput, required: true }) },
    authScopes: { authenticated: true },
    resolve: async (_root, { input }, context) => {
      const token = await revokeApiToken(context.prisma, context.actor(), input.apiTokenId.id);
      return { apiTokenId: token.id };
    },
  }),
);
