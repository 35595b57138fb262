// What GraphiQL shows a first-time visitor: where the token goes, and a query over what they can see.
export const DEFAULT_QUERY = `# Welcome to Membership Graph.
# Put your token under Headers (below):
#   {"Authorization": "Bearer pat_..."}
# A fresh embedded database logs a demo token
# on its first start.

query Overview {
  viewer { email name }
  organizations(first: 10) {
    totalCount
    edges {
      node {
        id
        name
        slug
        memberCount
        viewerPermissions
        viewerCan { update addMember invite createRole }
        members(first: 5, orderBy: { field: JOINED_AT }) {
          totalCount
          edges { node { role { key } user { email name } viewerCan { updateRole remove } } }
        }
      }
    }
  }
}
`;
