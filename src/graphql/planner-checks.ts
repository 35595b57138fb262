// plugin-prisma's check that every field spread the query it planned (a field that didn't loads
// its relations one by one: an N+1 in waiting). It fails the request outside production and is
// off in production (NODE_ENV). The schema, and so this setting, is one per process: createApp
// sets it from the Config it is given.
import { GraphQLError, type GraphQLResolveInfo } from "graphql";

let failOnUnusedQuery = true;

/** Called by createApp with its Config's choice (off when NODE_ENV=production). */
export function checkPlannedQueries(on: boolean): void {
  failOnUnusedQuery = on;
}

export function reportUnusedQuery(info: GraphQLResolveInfo): void {
  if (failOnUnusedQuery) throw new GraphQLError(`Field ${info.parentType.name}.${info.fieldName} planned a query it did not use (spread \`query\` into its findMany/findUnique)`);
}
