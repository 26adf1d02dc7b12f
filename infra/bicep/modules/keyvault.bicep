// Key Vault (RBAC mode) for the credentials of the other clouds: SageMaker's AWS keys and Vertex AI's
// service-account JSON. App settings reference the secrets (@Microsoft.KeyVault(SecretUri=...)), so the
// values never appear in app settings, deployment history or outputs.

param name string
param location string
param tags object = {}

@description('Principal id of the managed identity that resolves the Key Vault references.')
param principalId string

@description('Optional: principal id of the person or pipeline running the deployment, given Key Vault Secrets Officer so it can set the secrets by hand. Empty: no assignment.')
param deployerPrincipalId string = ''

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

// Key Vault Secrets User (4633458b-17de-408a-b874-0445c86b69e6): lets the platform resolve
// @Microsoft.KeyVault references with the app's identity (keyVaultReferenceIdentity).
resource secretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, principalId, '4633458b-17de-408a-b874-0445c86b69e6')
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '4633458b-17de-408a-b874-0445c86b69e6')
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// Key Vault Secrets Officer (b86a8fe4-44ce-4948-aee5-eccb2c155cd7) for the deployer, so an operator can
// write the cloud credentials; in RBAC mode not even the vault's creator can otherwise.
resource secretsOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  name: guid(vault.id, deployerPrincipalId, 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7')
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7')
    principalId: deployerPrincipalId
  }
}

output name string = vault.name
output uri string = vault.properties.vaultUri
