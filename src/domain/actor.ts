// Who performs a change: a user through a token (GraphQL) or the operator (CLI, seed).
export interface Actor {
  userId: string | null;
  tokenId: string | null;
  requestId: string | null;
  /** Filled by recordAudit: the change-feed revision each organization reached through this actor's change. */
  revisions?: Map<string, number>;
}

/** An actor who is a signed-in user (what the viewer's own changes need). */
export type UserActor = Actor & { userId: string };

export const operatorActor = (requestId: string | null = null): Actor => ({ userId: null, tokenId: null, requestId });
