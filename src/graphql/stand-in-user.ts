// What an organization sees of a person it added who hasn't accepted yet (a PENDING member):
// the address it typed, and nothing else — no name, picture, time zone, username, other
// addresses, phones or account status, and not even the account's id (a time-ordered UUID tells
// when an account was made, so it would tell a new placeholder from an existing account). Known
// and unknown addresses therefore look alike until the person accepts (README, Security,
// "Membership consent"). The stand-in carries the member's id as its own: node(id:) finds no user
// behind it, and User's auth scope lets it through wherever its member was visible.
import type { Member, User, UserEmail } from "../generated/prisma/client.js";

const STAND_IN: unique symbol = Symbol("stand-in user");

export type StandInUser = User & { [STAND_IN]: UserEmail };

export function isStandIn(user: object): user is StandInUser {
  return STAND_IN in user;
}

function standInFor(member: Pick<Member, "id" | "pendingEmail" | "joinedAt">): StandInUser {
  // Every PENDING member is made by addMember, which records the address it was given.
  if (!member.pendingEmail) throw new Error(`Pending member ${member.id} has no pendingEmail`);
  const at = member.joinedAt;
  const email: UserEmail = { id: member.id, userId: member.id, email: member.pendingEmail, isPrimary: true, isVerified: false, verifiedAt: null, verifiedEmail: null, createdAt: at };
  return {
    id: member.id,
    email: member.pendingEmail,
    externalId: null,
    username: null,
    isOperator: false,
    isPlaceholder: false,
    firstName: null,
    lastName: null,
    imageUrl: null,
    timezone: null,
    // What an address nobody has an account for shows too.
    status: "INVITED",
    invitedAt: at,
    createdAt: at,
    updatedAt: at,
    [STAND_IN]: email,
  };
}

/** The member's user as `viewerId` may see it: the real one for accepted memberships and for the person themself. */
export function memberUserAsSeen(member: Pick<Member, "id" | "userId" | "status" | "pendingEmail" | "joinedAt">, user: User, viewerId: string | undefined): User {
  return member.status === "PENDING" && member.userId !== viewerId ? standInFor(member) : user;
}

/** The addresses a stand-in shows: the one typed, unverified. */
export function standInEmails(user: StandInUser): UserEmail[] {
  return [user[STAND_IN]];
}
