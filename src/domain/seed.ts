// The demo dataset: three organizations, dozens of members with different roles, a custom
// role and pending invitations. Idempotent: a database that already has the demo
// organizations is left as it is.
import { SYSTEM_ROLES } from "../core/permissions.js";
import { newSecret } from "../core/tokens.js";
import type { PrismaClient } from "../generated/prisma/client.js";
import { operatorActor } from "./actor.js";
import { recordAudit } from "./audit.js";
import { createOrganization } from "./organizations.js";
import { findOrCreateActiveUser } from "./users.js";
import { addPrimaryEmail, markEmailVerified, markPhoneVerified } from "./contacts.js";

export const DEMO_OWNER_EMAIL = "demo@example.com";

const DEMO_LOCATIONS: Record<string, string[]> = {
  acme: ["New York HQ", "Boston", "Remote"],
  globex: ["Berlin", "Hamburg"],
};

const FIRST_NAMES = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Margaret", "Ken", "Radia", "Linus", "Frances", "John", "Katherine", "Dennis", "Hedy", "Tim", "Sophie", "Guido", "Anita", "Bjarne"];
const LAST_NAMES = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Hamilton", "Thompson", "Perlman", "Torvalds", "Allen", "McCarthy", "Johnson", "Ritchie", "Lamarr", "Berners-Lee", "Wilson", "van Rossum", "Borg", "Stroustrup"];

interface DemoOrg {
  slug: string;
  name: string;
  timezone: string;
  ownerEmail: string;
  businessInformation: string;
  members: number;
}

const DEMO_ORGS: DemoOrg[] = [
  { slug: "acme", name: "Acme Corporation", timezone: "America/New_York", ownerEmail: DEMO_OWNER_EMAIL, businessInformation: "Anvils, rockets and giant magnets since 1949.", members: 36 },
  { slug: "globex", name: "Globex", timezone: "Europe/Berlin", ownerEmail: DEMO_OWNER_EMAIL, businessInformation: "Global exports.", members: 14 },
  { slug: "initech", name: "Initech", timezone: "America/Chicago", ownerEmail: "bill@initech.example", businessInformation: "TPS reports, done right.", members: 9 },
];

export interface SeedResult {
  created: boolean;
  organizations: number;
  users: number;
}

export async function seedDemo(prisma: PrismaClient, log: (message: string) => void = () => {}): Promise<SeedResult> {
  const existing = await prisma.organization.count({ where: { slug: { in: DEMO_ORGS.map((org) => org.slug) } } });
  if (existing === DEMO_ORGS.length) {
    log("demo data already present; nothing to do");
    return { created: false, organizations: 0, users: 0 };
  }

  let usersCreated = 0;
  let organizationsCreated = 0;
  for (const [orgIndex, demo] of DEMO_ORGS.entries()) {
    if (await prisma.organization.findUnique({ where: { slug: demo.slug } })) continue;
    const owner = await findOrCreateActiveUser(prisma, demo.ownerEmail, {
      firstName: demo.ownerEmail === DEMO_OWNER_EMAIL ? "Dana" : "Bill",
      lastName: demo.ownerEmail === DEMO_OWNER_EMAIL ? "Demo" : "Lumbergh",
      timezone: demo.timezone,
    });
    if (demo.ownerEmail === DEMO_OWNER_EMAIL) {
      await markEmailVerified(prisma, owner.id, "dana@personal.example");
      await markPhoneVerified(prisma, owner.id, "+15550100001");
    }
    const actor = { ...operatorActor(), userId: owner.id };
    const organization = await createOrganization(prisma, actor, {
      name: demo.name,
      slug: demo.slug,
      timezone: demo.timezone,
      businessInformation: demo.businessInformation,
    });
    organizationsCreated++;

    const billing = await prisma.role.create({
      data: {
        organizationId: organization.id,
        key: "billing_manager",
        name: "Billing manager",
        description: "Sees the organization and its members; manages invitations.",
        permissions: ["org:read", "members:read", "invitations:read", "invitations:create"],
      },
    });

    for (let i = 0; i < demo.members; i++) {
      const first = FIRST_NAMES[(i + orgIndex * 7) % FIRST_NAMES.length]!;
      const last = LAST_NAMES[(i * 3 + orgIndex) % LAST_NAMES.length]!;
      const email = `${first}.${last}.${i}@${demo.slug}.example`.toLowerCase().replace(/[^a-z0-9.@-]/g, "");
      const user = await prisma.user.upsert({
        where: { email },
        create: { email, firstName: first, lastName: last, timezone: demo.timezone },
        update: {},
      });
      usersCreated++;
      await addPrimaryEmail(prisma, user, true);
      if (i % 5 === 1) {
        // Some people have a second (verified) address and a phone number.
        const personal = `${first}.${last}.${i}@personal.example`.toLowerCase().replace(/[^a-z0-9.@-]/g, "");
        await markEmailVerified(prisma, user.id, personal);
        await markPhoneVerified(prisma, user.id, `+1555${String(orgIndex).padStart(2, "0")}${String(i).padStart(5, "0")}`);
      }
      const roleId = i < 3 ? SYSTEM_ROLES.admin.id : i % 9 === 4 ? billing.id : SYSTEM_ROLES.member.id;
      await prisma.$transaction(async (tx) => {
        const member = await tx.member.create({
          data: {
            organizationId: organization.id,
            userId: user.id,
            roleId,
            status: i % 11 === 10 ? "SUSPENDED" : "ACTIVE",
            isPrimary: i === 0,
            invitedById: owner.id,
            joinedAt: new Date(Date.UTC(2025, 0, 1) + i * 86_400_000),
            publicMetadata: { title: i < 3 ? "Administrator" : "Engineer" },
            privateMetadata: { employeeNumber: 1000 + i },
          },
        });
        await recordAudit(tx, actor, {
          organizationId: organization.id,
          action: "member.added",
          targetType: "Member",
          targetId: member.id,
          after: { userId: user.id, roleId },
        });
      });
    }

    // Demo owner of Acme is also an admin of Initech, to show several memberships.
    if (demo.slug === "initech") {
      const dana = await findOrCreateActiveUser(prisma, DEMO_OWNER_EMAIL);
      await prisma.member.create({ data: { organizationId: organization.id, userId: dana.id, roleId: SYSTEM_ROLES.admin.id, invitedById: owner.id } });
    }

    // Locations, with members assigned to them; a few hold admin at one location only.
    const locations = [];
    for (const name of DEMO_LOCATIONS[demo.slug] ?? []) {
      locations.push(await prisma.location.create({ data: { organizationId: organization.id, name, timezone: demo.timezone } }));
    }
    if (locations.length > 0) {
      const members = await prisma.member.findMany({ where: { organizationId: organization.id }, orderBy: { joinedAt: "asc" }, take: 24 });
      for (const [index, member] of members.entries()) {
        if (member.roleId === SYSTEM_ROLES.owner.id) continue;
        const location = locations[index % locations.length]!;
        const roleIds = index % 8 === 5 ? [SYSTEM_ROLES.admin.id] : index % 8 === 6 ? [SYSTEM_ROLES.member.id, billing.id] : [SYSTEM_ROLES.member.id];
        await prisma.memberLocationRole.createMany({
          data: roleIds.map((roleId) => ({ organizationId: organization.id, memberId: member.id, locationId: location.id, roleId })),
        });
        if (index % 3 === 0) await prisma.member.update({ where: { id: member.id }, data: { defaultLocationId: location.id } });
      }
    }

    for (let i = 0; i < 3; i++) {
      await prisma.invitation.create({
        data: {
          organizationId: organization.id,
          email: `invitee${i + 1}@${demo.slug}.example`,
          roleId: i === 0 ? SYSTEM_ROLES.admin.id : SYSTEM_ROLES.member.id,
          invitedById: owner.id,
          tokenHash: newSecret("inv_").hash,
          expiresAt: new Date(Date.now() + 7 * 86_400_000),
        },
      });
    }
    log(`seeded ${demo.name} with ${demo.members + 1} members`);
  }
  return { created: organizationsCreated > 0, organizations: organizationsCreated, users: usersCreated };
}
