// One user-assigned managed identity for every component (Function App, both worker apps, the Batch
// account and its pool nodes). One principal keeps the role assignments in one reviewable place and
// lets the identity exist before the apps that use it, so roles are granted before first start.

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
