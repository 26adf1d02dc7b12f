// Key Vault (RBAC mode) for the credentials of the other clouds: SageMaker's AWS keys and Vertex AI's
// service-account JSON. App settings reference the secrets (@Microsoft.KeyVault(SecretUri=...)), so the
// values never appear in app settings, deployment history or outputs. The vault holds these secrets and
// nothing else, and only the Function App's identity may read them (modules/access.bicep).

param name string
param location string
param tags object = {}

@description('Secret name -> value. Entries with an empty value are skipped, so the secrets can also be set later with az keyvault secret set.')
@secure()
param secretValues object = {}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
    // Purge protection is left off: once on it can never be turned off, and it blocks re-creating a
    // vault of the same name for the retention period after `azd down`.
    publicNetworkAccess: 'Enabled'
  }
}

resource secrets 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = [for s in items(secretValues): if (!empty(s.value)) {
  parent: vault
  name: s.key
  properties: {
    value: s.value
  }
}]

output name string = vault.name
output uri string = vault.properties.vaultUri
