// A user's contact points (emails, phones, username), managed by the user themself, and what
// platform operators do: list all users, suspend and unsuspend accounts.
import { encodeGlobalID } from "@pothos/plugin-relay";
import type { Prisma, User, UserEmail, UserPhone } from "../../generated/prisma/client.js";
import { addEmail, addPhone, removeEmail, removePhone, setPrimaryEmail, setPrimaryPhone, setUsername } from "../../domain/contacts.js";
import { found, invalid } from "../../core/errors.js";
import { suspendUser, unsuspendUser } from "../../domain/operators.js";
import { builder, PAGE_SIZES } from "../builder.js";
import { requireIdCursors } from "../cursors.js";
import type { Context } from "../context.js";
import { isStandIn, standInEmails } from "../stand-in-user.js";
import { UserStatusEnum } from "./enums.js";
import { UserNode } from "./user.js";

const contactFields = {
  isPrimary: "The one shown as the user's main address or number",
  isVerified: "Proven to belong to the user (by their identity provider, or by an operator)",
};

const UserEmailRef = builder.objectRef<UserEmail>("UserEmail").implement({
  description: "One of a user's email addresses",
  fields: (t) => ({
    id: t.id({ resolve: (row) => encodeGlobalID("UserEmail", row.id) }),
    email: t.expose("email", { type: "EmailAddress" }),
    isPrimary: t.exposeBoolean("isPrimary", { description: contactFields.isPrimary }),
    isVerified: t.exposeBoolean("isVerified", { description: contactFields.isVerified }),
    verifiedAt: t.expose("verifiedAt", { type: "DateTime", nullable: true }),
  }),
});

const UserPhoneRef = builder.objectRef<UserPhone>("UserPhone").implement({
  description: "One of a user's phone numbers (E.164)",
  fields: (t) => ({
    id: t.id({ resolve: (row) => encodeGlobalID("UserPhone", row.id) }),
    phoneNumber: t.expose("phoneNumber", { type: "PhoneNumber" }),
    isPrimary: t.exposeBoolean("isPrimary", { description: contactFields.isPrimary }),
    isVerified: t.exposeBoolean("isVerified", { description: contactFields.isVerified }),
    verifiedAt: t.expose("verifiedAt", { type: "DateTime", nullable: true }),
  }),
});

builder.prismaObjectField("User", "username", (t) => t.exposeString("username", { nullable: true, description: "Unique, case-insensitive (stored lower-cased)" }));

builder.prismaObjectField("User", "isOperator", (t) =>
  t.boolean({
    description: "A platform operator (granted with the CLI). Visible to the user themselves and to operators",
    nullable: true,
    resolve: (user, _args, context) => (user.id === context.viewer?.user.id || context.policy.isOperator ? user.isOperator : null),
  }),
);

builder.prismaObjectField("User", "emails", (t) =>
  t.field({
    type: [UserEmailRef],
    description:
      "The user's addresses, primary first. Others see only the primary one, unless they hold members:read_private in an organization the user belongs to.",
    // Batched: a page of members with their users' addresses costs one statement, not one per user.
    resolve: async (user, _args, context) => {
      if (isStandIn(user)) return standInEmails(user);
      const [all, full] = await Promise.all([context.loaders.emailsByUser.load(user.id), context.policy.canSeePrivateOf(user.id)]);
      return full ? all : all.filter((row) => row.isPrimary);
    },
  }),
);

builder.prismaObjectField("User", "phones", (t) =>
  t.field({
    type: [UserPhoneRef],
    description: "The user's phone numbers, primary first. Only the user, operators, and holders of members:read_private in a shared organization see them.",
    resolve: async (user, _args, context) => {
      if (isStandIn(user)) return [];
      const [all, full] = await Promise.all([context.loaders.phonesByUser.load(user.id), context.policy.canSeePrivateOf(user.id)]);
      return full ? all : [];
    },
  }),
);

// ---- The viewer's own contact points -----------------------------------------------------------

const ViewerPayload = (name: string) =>
  builder.objectRef<{ userId: string }>(name).implement({
    fields: (t) => ({
      user: t.prismaField({
        type: "User",
        resolve: async (query, payload, _args, context) =>
          found(await context.prisma.user.findUnique({ ...query, where: { id: payload.userId } }), "User"),
      }),
    }),
  });

const EmailIdInput = (name: string) => builder.inputType(name, { fields: (t) => ({ emailId: t.globalID({ for: UserEmailRef, required: true }) }) });
const PhoneIdInput = (name: string) => builder.inputType(name, { fields: (t) => ({ phoneId: t.globalID({ for: UserPhoneRef, required: true }) }) });

const userMutation = (
  name: string,
  description: string,
  input: ReturnType<typeof builder.inputType>,
  run: (context: Context, input: Record<string, unknown>) => Promise<unknown>,
) =>
  builder.mutationField(name, (t) =>
    t.field({
      type: ViewerPayload(`${name[0]!.toUpperCase()}${name.slice(1)}Payload`),
      description,
      authScopes: { authenticated: true },
      args: { input: t.arg({ type: input, required: true }) },
      resolve: async (_root, args, context) => {
        await run(context, args.input as Record<string, unknown>);
        return { userId: context.viewer!.user.id };
      },
    }),
  );

// userMutation hands its input over untyped; the ids in it arrive decoded (global-id-args.ts).
const emailId = (input: Record<string, unknown>) => (input.emailId as { id: string }).id;
const phoneId = (input: Record<string, unknown>) => (input.phoneId as { id: string }).id;

userMutation(
  "addEmail",
  "Adds an address to your account, unverified. An address another account holds verified is a CONFLICT.",
  builder.inputType("AddEmailInput", { fields: (t) => ({ email: t.field({ type: "EmailAddress", required: true }) }) }),
  (context, input) => addEmail(context.prisma, context.actor(), { email: String(input.email) }),
);
userMutation(
  "removeEmail",
  "Removes one of your addresses. The primary one only when another verified address can become primary.",
  EmailIdInput("RemoveEmailInput"),
  (context, input) => removeEmail(context.prisma, context.actor(), { emailId: emailId(input) }),
);
userMutation(
  "setPrimaryEmail",
  "Makes one of your verified addresses the primary one (User.email).",
  EmailIdInput("SetPrimaryEmailInput"),
  (context, input) => setPrimaryEmail(context.prisma, context.actor(), { emailId: emailId(input) }),
);
userMutation(
  "addPhone",
  "Adds a phone number (E.164) to your account, unverified; your first number becomes primary.",
  builder.inputType("AddPhoneInput", { fields: (t) => ({ phoneNumber: t.field({ type: "PhoneNumber", required: true }) }) }),
  (context, input) => addPhone(context.prisma, context.actor(), { phoneNumber: String(input.phoneNumber) }),
);
userMutation(
  "removePhone",
  "Removes one of your phone numbers.",
  PhoneIdInput("RemovePhoneInput"),
  (context, input) => removePhone(context.prisma, context.actor(), { phoneId: phoneId(input) }),
);
userMutation(
  "setPrimaryPhone",
  "Makes one of your phone numbers the primary one.",
  PhoneIdInput("SetPrimaryPhoneInput"),
  (context, input) => setPrimaryPhone(context.prisma, context.actor(), { phoneId: phoneId(input) }),
);
userMutation(
  "setUsername",
  "Sets (or, with null, clears) your username: 3-32 of a-z 0-9 _ . -, unique case-insensitively.",
  builder.inputType("SetUsernameInput", { fields: (t) => ({ username: t.string({ required: false }) }) }),
  (context, input) => setUsername(context.prisma, context.actor(), { username: input.username == null ? null : String(input.username) }),
);

// ---- Platform operators -------------------------------------------------------------------------

const UserFilter = builder.inputType("UserFilter", {
  fields: (t) => ({
    search: t.string({ required: false, description: "Case-insensitive match on email, names or username" }),
    status: t.field({ type: UserStatusEnum, required: false }),
  }),
});

function userWhere(filter: { search?: string | null; status?: User["status"] | null } | null | undefined): Prisma.UserWhereInput {
  const search = filter?.search?.trim();
  if (search && search.length > 200) throw invalid("filter.search", "filter.search must be at most 200 characters");
  return {
    ...(filter?.status ? { status: filter.status } : {}),
    ...(search
      ? {
          OR: [
            { email: { contains: search, mode: "insensitive" } },
            { firstName: { contains: search, mode: "insensitive" } },
            { lastName: { contains: search, mode: "insensitive" } },
            { username: { contains: search.toLowerCase() } },
          ],
        }
      : {}),
  };
}

builder.queryField("users", (t) =>
  t.prismaConnection({
    type: "User",
    cursor: "id",
    ...PAGE_SIZES,
    description: "Every user of the service, newest first. Platform operators only.",
    authScopes: { operator: true },
    args: { filter: t.arg({ type: UserFilter, required: false }) },
    totalCount: (_parent, args, context) => context.prisma.user.count({ where: userWhere(args.filter) }),
    resolve: (query, _root, args, context) => {
      requireIdCursors(args);
      return context.prisma.user.findMany({ ...query, where: userWhere(args.filter), orderBy: [{ createdAt: "desc" }, { id: "desc" }] });
    },
  }),
);

const UserIdInput = (name: string) => builder.inputType(name, { fields: (t) => ({ userId: t.globalID({ for: UserNode, required: true }) }) });

for (const [name, run, description] of [
  ["suspendUser", suspendUser, "Suspends an account in every organization: its tokens and JWTs stop working at once (UNAUTHENTICATED); memberships stay but grant nothing. Operators only."],
  ["unsuspendUser", unsuspendUser, "Lifts a suspension. Operators only."],
] as const) {
  builder.mutationField(name, (t) =>
    t.field({
      type: ViewerPayload(`${name[0]!.toUpperCase()}${name.slice(1)}Payload`),
      description,
      authScopes: { operator: true },
      args: { input: t.arg({ type: UserIdInput(`${name[0]!.toUpperCase()}${name.slice(1)}Input`), required: true }) },
      resolve: async (_root, { input }, context) => {
        const user = await run(context.prisma, context.actor(), { userId: input.userId.id });
        return { userId: user.id };
      },
    }),
  );
}
