// How node(id:) and nodes(ids:) load a prismaNode: all ids of one type that one field asks for
// in one findMany with the caller's visibility filter, the planned selection beneath it (so the
// statements follow the number of types, not of ids). plugin-prisma's own loader sends a
// findUnique per id, which Prisma can't batch once the where holds the visibility filter.
// An id the caller can't see is filtered out by the database and reads as null, like an unknown id.
import { queryFromInfo } from "@pothos/plugin-prisma";
import DataLoader from "dataloader";
import { isObjectType, type GraphQLResolveInfo } from "graphql";
import { AppError } from "../core/errors.js";
import type PrismaTypes from "../generated/pothos-prisma-types.js";
import type { Context } from "./context.js";
import { asUuid } from "./common.js";

type NodeModel = "ApiToken" | "Invitation" | "Location" | "Member" | "Organization" | "Role" | "User" | "WebhookDelivery" | "WebhookEndpoint";

interface FindMany {
  findMany(args: object): Promise<{ id: string }[]>;
}

// Per field being resolved (a `nodes` field hands every id the same info): one loader per type.
const loadersByField = new WeakMap<GraphQLResolveInfo, Map<string, DataLoader<string, object | null>>>();

function loaderFor<M extends NodeModel>(model: M, visible: (context: Context) => PrismaTypes[M]["Where"], context: Context, info: GraphQLResolveInfo) {
  let byModel = loadersByField.get(info);
  if (!byModel) loadersByField.set(info, (byModel = new Map()));
  let loader = byModel.get(model);
  if (!loader) {
    loader = new DataLoader<string, object | null>(
      async (ids) => {
        const query = (await queryFromInfo({ context, info, typeName: model, awaitSelections: true })) as { select?: object; include?: object };
        const delegate = (context.prisma as unknown as Record<string, FindMany>)[model.charAt(0).toLowerCase() + model.slice(1)]!;
        const rows = await delegate.findMany({
          ...query,
          ...(query.select ? { select: { ...query.select, id: true } } : {}),
          where: { id: { in: [...ids] }, AND: [visible(context)] },
        });
        const byId = new Map(rows.map((row) => [row.id, row]));
        return ids.map((id) => byId.get(id) ?? null);
      },
      { cache: false },
    );
    byModel.set(model, loader);
  }
  return loader;
}

/**
 * A prismaNode's `findUnique` (used by plugin-prisma's fallbacks) and its batched loading for
 * node/nodes, both from one visibility filter: spread into the prismaNode's options.
 */
export function visibleNodes<M extends NodeModel>(model: M, visible: (context: Context) => PrismaTypes[M]["Where"]) {
  return {
    findUnique: (id: string, context: Context) => ({ id: asUuid(id), AND: [visible(context)] }) as PrismaTypes[M]["WhereUnique"],
    loadWithoutCache: (id: string, context: Context, info: GraphQLResolveInfo) => loaderFor(model, visible, context, info).load(asUuid(id)),
  };
}

// ---- Which global IDs node/nodes take -----------------------------------------------------------

type GlobalId = { typename: string; id: string };

/** Whether a global ID names a type node(id:) loads: an object type implementing Node (not String, an enum, an input…). */
function namesNode(info: GraphQLResolveInfo, { typename }: GlobalId): boolean {
  const type = info.schema.getType(typename);
  return isObjectType(type) && type.getInterfaces().some((implemented) => implemented.name === "Node");
}

const notANodeId = (field: string) => new AppError("BAD_USER_INPUT", `${field} is not the global ID of an object`, { field });

/** node(id:): an ID naming anything but a Node type is the caller's mistake (BAD_USER_INPUT), never a lookup. */
export function resolveNodeId(_root: unknown, args: { id: GlobalId }, _context: unknown, info: GraphQLResolveInfo, resolveNode: (id: GlobalId) => unknown) {
  return namesNode(info, args.id) ? resolveNode(args.id) : Promise.reject(notANodeId("id"));
}

/**
 * nodes(ids:): the same, answered per id: such an id gets its own BAD_USER_INPUT at its index and
 * null there, while the others load as usual (the list's items are nullable).
 */
export async function resolveNodeIds(_root: unknown, args: { ids: GlobalId[] }, _context: unknown, info: GraphQLResolveInfo, resolveNodes: (ids: GlobalId[]) => Promise<unknown[]>) {
  const refused = args.ids.map((id) => !namesNode(info, id));
  // The relay plugin skips null entries (and reads args.ids itself).
  args.ids.forEach((_id, index) => {
    if (refused[index]) (args.ids as (GlobalId | null)[])[index] = null;
  });
  const nodes = await resolveNodes(args.ids);
  // An Error as a list item is that item's field error (graphql-js), located at nodes.N.
  return nodes.map((node, index) => (refused[index] ? notANodeId(`ids.${index}`) : node));
}
