// Types for scripts/build.mjs, which the TypeScript callers (bench, soak, tests) import.

interface BuildOptions {
  /** No summary line on stderr. */
  quiet?: boolean;
  /** Where to build (absolute); dist/ by default. */
  outdir?: string;
}

/** What `npm start` passes to node: package.json's "start" script without its leading `node`. */
export const SERVER_NODE_ARGS: string[];
export function isStale(options?: Pick<BuildOptions, "outdir">): boolean;
export function build(options?: BuildOptions): Promise<void>;
export function ensureBuilt(options?: BuildOptions): Promise<boolean>;
