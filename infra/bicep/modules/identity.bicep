// One user-assigned managed identity. main.bicep creates one per component (Function App, worker
// code, worker platform, Batch pool nodes) so that no component can act as another: each holds only
// the roles its own calls need (modules/access.bicep, docs/deploy.md "Role assignments").
// User-assigned rather than system-assigned so the roles exist before the apps first start.

@description('Name of the user-assigned managed identity.')
param name string

param location string
param tags object = {}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
