// The benchmark's GraphQL documents, shared with test/query-count.test.ts, which guards their
// SQL statement counts in CI.
/** Authenticated `{ __typename }`: what every request pays before any field runs. */
export const Q0 = `query Q0 { __typename }`;

export const Q1 = `query Q1($slug: String!) {
  organization(slug: $slug) {
    id name
    members(first: 50) {
      totalCount
      edges { node { id status joinedAt role { key name } user { id email firstName lastName } } }
    }
  }
}`;

export const Q2 = `query Q2 {
  organizations(first: 100) {
    totalCount
    edges { node {
      id name slug
      members(first: 50) {
        totalCount
        edges { node { id status joinedAt role { key name } user { id email firstName lastName } } }
      }
    } }
  }
}`;

export const Q3 = `query Q3($slug: String!, $search: String!) {
  organization(slug: $slug) {
    members(first: 20, filter: { search: $search }) {
      totalCount
      edges { node { id user { email firstName lastName } } }
    }
  }
}`;

export const Q4 = `query Q4($id: ID!) {
  node(id: $id) { ... on Member { id status role { key } user { email } } }
}`;

export const W1 = `mutation W1($input: AddMemberInput!) {
  addMember(input: $input) { member { id role { key } user { email } } }
}`;

export const W2 = `mutation W2($input: UpdateMemberRoleInput!) {
  updateMemberRole(input: $input) { member { id role { key } } }
}`;

/**
 * Most SQL statements each read may cost, at any data size. q0 is the token lookup alone. Every
 * read that touches an organization adds one statement for the viewer's standing there (read
 * lazily, for all the organizations the request touches at once; README, Performance), which is
 * why q3 and q4 are one above the first benchmark's budgets (3 and 2).
 */
export const STATEMENT_BUDGET = { q0: 1, q1: 4, q2: 6, q3: 4, q4: 3 } as const;
