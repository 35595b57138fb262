// Verifying JWTs from an identity provider (Auth0, Clerk, WorkOS, Keycloak, Cognito, …) with
// `jose`: the signature against the provider's JWKS (cached; refetched when a token names an
// unknown key id) or a static public key, the allowed asymmetric algorithms only (never
// "none", never HS*), exp/nbf with a small clock tolerance, the issuer and the audience.
// Only the identity is taken from the token; permissions are always read from the database.
import { createPublicKey, type KeyObject } from "node:crypto";
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from "jose";
import type { JwtConfig } from "../config.js";
import { AppError, unauthenticated } from "../core/errors.js";

export interface JwtIdentity {
  subject: string;
  email: string | null;
  emailVerified: boolean;
  firstName: string | null;
  lastName: string | null;
  imageUrl: string | null;
  phoneNumber: string | null;
  phoneNumberVerified: boolean;
}

/** Three base64url parts: a JWS in compact form. */
export function looksLikeJwt(value: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(value);
}

const text = (value: unknown, max: number): string | null =>
  typeof value === "string" && value.trim() !== "" && value.length <= max ? value.trim() : null;

function identity(payload: JWTPayload): JwtIdentity {
  const subject = text(payload.sub, 255);
  if (!subject) throw unauthenticated("The token has no subject (sub) claim");
  return {
    subject,
    email: text(payload.email, 254),
    // Providers send true, or (some) the string "true".
    emailVerified: payload.email_verified === true || payload.email_verified === "true",
    firstName: text(payload.given_name, 100),
    lastName: text(payload.family_name, 100),
    imageUrl: text(payload.picture, 2048),
    phoneNumber: text(payload.phone_number, 32),
    phoneNumberVerified: payload.phone_number_verified === true || payload.phone_number_verified === "true",
  };
}

/** A clear reason for each way a token can fail, without echoing the token. */
function explain(error: unknown): AppError {
  if (error instanceof AppError) return error;
  if (error instanceof errors.JWTExpired) return unauthenticated("The token has expired: sign in again");
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === "nbf") return unauthenticated("The token is not valid yet (nbf)");
    return unauthenticated(`The token's "${error.claim}" claim is not accepted by this service`);
  }
  if (error instanceof errors.JOSEAlgNotAllowed) return unauthenticated("The token's signing algorithm is not allowed");
  if (error instanceof errors.JWSSignatureVerificationFailed) return unauthenticated("The token's signature is not valid");
  if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) {
    return unauthenticated("The token was signed with a key the identity provider does not publish");
  }
  if (error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid || (error instanceof Error && error.name === "TypeError")) {
    return new AppError("SERVICE_UNAVAILABLE", "The identity provider's signing keys could not be fetched; try again shortly");
  }
  if (error instanceof errors.JOSEError) return unauthenticated("The token is not a valid JWT");
  return unauthenticated("The token is not a valid JWT");
}

export type JwtVerifier = (token: string) => Promise<JwtIdentity>;

export function createJwtVerifier(config: JwtConfig): JwtVerifier {
  let key: KeyObject | JWTVerifyGetKey;
  if (config.jwksUrl) {
    key = createRemoteJWKSet(new URL(config.jwksUrl), {
      timeoutDuration: 5_000,
      cooldownDuration: config.jwksRefreshCooldownSeconds * 1000,
      cacheMaxAge: 10 * 60_000,
    });
  } else {
    key = createPublicKey(config.publicKey!);
  }
  return async (token) => {
    try {
      const { payload } = await jwtVerify(token, key as JWTVerifyGetKey, {
        issuer: config.issuer,
        audience: config.audience,
        algorithms: config.algorithms,
        clockTolerance: config.clockToleranceSeconds,
        requiredClaims: ["exp", "sub"],
      });
      return identity(payload);
    } catch (error) {
      throw explain(error);
    }
  };
}
