// The benchmark's GraphQL documents, shared with test/query-count.test.ts, which guards their
// SQL statement counts in CI.
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

/** Most SQL statements each read may cost, at any data size (issue targets). */
export const STATEMENT_BUDGET = { q1: 4, q2: 6, q3: 3, q4: 2 } as const;
