// GraphQL enums that mirror the database enums.
import { InvitationStatus, MemberStatus, UserStatus } from "../../generated/prisma/enums.js";
import { builder } from "../builder.js";

export const UserStatusEnum = builder.enumType(UserStatus, { name: "UserStatus" });
export const MemberStatusEnum = builder.enumType(MemberStatus, { name: "MemberStatus" });
export const InvitationStatusEnum = builder.enumType(InvitationStatus, { name: "InvitationStatus" });
