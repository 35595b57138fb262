// Who performs a change: a user through a token (GraphQL) or the operator (CLI, seed).
export interface Actor {
  userId: string | null;
  tokenId: string | null;
  requestId: string | null;
}

export const operatorActor = (requestId: string | null = null): Actor => ({ userId: null, tokenId: null, requestId });
