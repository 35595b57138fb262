// Composes a supergraph from running subgraphs and prints its SDL (for Apollo Router or Hive
// Gateway's `supergraph` option).
//   npm run -s supergraph -- membership=http://localhost:4000/graphql projects=http://localhost:4001/graphql > supergraph.graphql
// Each subgraph's SDL is read from its `_service { sdl }`; an Authorization header can be given
// with SUBGRAPH_AUTHORIZATION if a subgraph needs one. Exits non-zero on composition errors.
import { composeServices } from "@theguild/federation-composition";
import { parse } from "graphql";

export interface Subgraph {
  name: string;
  url: string;
  sdl: string;
}

export async function fetchSubgraphSdl(url: string, authorization?: string): Promise<string> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...(authorization ? { authorization } : {}) },
    body: JSON.stringify({ query: "{ _service { sdl } }" }),
  });
  const body = (await response.json()) as { data?: { _service?: { sdl?: string } }; errors?: unknown };
  const sdl = body.data?._service?.sdl;
  if (!sdl) throw new Error(`${url} did not return its SDL: ${JSON.stringify(body).slice(0, 300)}`);
  return sdl;
}

/** Composes the subgraphs; throws with every composition error. */
export function composeSupergraph(subgraphs: Subgraph[]): string {
  const result = composeServices(subgraphs.map((subgraph) => ({ name: subgraph.name, url: subgraph.url, typeDefs: parse(subgraph.sdl) })));
  if (result.errors) throw new Error(`composition failed:\n${result.errors.map((error) => `- ${error.message}`).join("\n")}`);
  return result.supergraphSdl;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const pairs = process.argv.slice(2);
  if (pairs.length === 0 || pairs.some((pair) => !/^[A-Za-z0-9_-]+=https?:\/\//.test(pair))) {
    console.error("usage: npm run -s supergraph -- name=http://host:port/graphql [name=url …]");
    process.exit(2);
  }
  try {
    const subgraphs = await Promise.all(
      pairs.map(async (pair) => {
        const [name, url] = [pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1)];
        return { name, url, sdl: await fetchSubgraphSdl(url, process.env.SUBGRAPH_AUTHORIZATION) };
      }),
    );
    process.stdout.write(`${composeSupergraph(subgraphs)}\n`);
  } catch (error) {
    console.error((error as Error).message);
    process.exit(1);
  }
}
