// How the lean lists batch and page: a DataLoader key is one organization and one shape of
// arguments (page size, cursor, filter, order); keys of one shape share one statement for all
// their organizations, whose rows then become each organization's Relay page.

export interface ShapedKey {
  organizationId: string;
  /** Identical for keys whose arguments are the same. */
  shape: string;
}

export const shapedCacheKey = (key: ShapedKey) => `${key.organizationId}:${key.shape}`;

/**
 * A DataLoader batch function: groups the keys by shape, runs `load` once per shape (with that
 * shape's first key, for its arguments) for all of the group's organizations, and answers in key
 * order, `missing(key)` where `load` returned nothing for an organization.
 */
export function byShape<K extends ShapedKey, T>(load: (organizationIds: string[], sample: K) => Promise<Map<string, T>>, missing: (key: K) => T) {
  return async (keys: readonly K[]): Promise<T[]> => {
    const groups = new Map<string, K[]>();
    for (const key of keys) {
      const group = groups.get(key.shape);
      if (group) group.push(key);
      else groups.set(key.shape, [key]);
    }
    const results = new Map<string, T>();
    await Promise.all(
      [...groups.values()].map(async (group) => {
        const loaded = await load([...new Set(group.map((key) => key.organizationId))], group[0]!);
        for (const key of group) {
          const found = loaded.get(key.organizationId);
          if (found !== undefined) results.set(shapedCacheKey(key), found);
        }
      }),
    );
    return keys.map((key) => results.get(shapedCacheKey(key)) ?? missing(key));
  };
}

/**
 * One organization's page from the rows read for it (at most size + 1, in reading order): the
 * extra row only tells that there is more, and a backward page was read in reverse.
 */
export function pageFrom<R, E extends { readonly cursor: string }>(
  rows: readonly R[],
  size: number,
  backward: boolean,
  args: { after?: string | null; before?: string | null },
  edge: (row: R) => E,
) {
  const more = rows.length > size;
  const page = rows.slice(0, size);
  if (backward) page.reverse();
  const edges = page.map(edge);
  return {
    edges,
    pageInfo: {
      hasNextPage: backward ? args.before != null : more,
      hasPreviousPage: backward ? more : args.after != null,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
  };
}
