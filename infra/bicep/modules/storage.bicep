// The job-data account: job state (tables), results, payloads, Essedum input artifacts and the Batch
// staging container (blobs). It is NOT the Functions host account (AzureWebJobsStorage and the
// deployment package live in modules/host-storage.bicep), so nothing the workers or nodes can reach
// holds function keys or code. Shared keys are disabled: every caller authenticates with Entra ID and
// holds roles on single tables and containers only (modules/access.bicep).

param name string
param location string
param tags object = {}

@description('Tables the code uses (JOBS_TABLE, IDEMPOTENCY_TABLE).')
param tableNames array

@description('Blob containers: results, payloads, Essedum artifacts and Batch staging.')
param containerNames array

@description('Container whose blobs are deleted after stagingRetentionDays (Batch staging inputs).')
param stagingContainerName string

@description('Safety net behind the Batch provider\'s own cleanup: staged inputs older than this are deleted.')
param stagingRetentionDays int = 7

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: 'Standard_LRS'
  }
  kind: 'StorageV2'
  properties: {
    accessTier: 'Hot'
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
    // Identity only: no account keys, no key-signed SAS. Batch tasks get user-delegation SAS.
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource containers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [for c in containerNames: {
  parent: blobService
  name: c
  properties: {
    publicAccess: 'None'
  }
}]

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource tables 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = [for t in tableNames: {
  parent: tableService
  name: t
}]

// The seed's Batch provider never deleted staged blobs; ours does, and this rule catches anything a
// crashed cleanup left behind.
resource lifecycle 'Microsoft.Storage/storageAccounts/managementPolicies@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    policy: {
      rules: [
        {
          name: 'expire-batch-staging'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: {
              blobTypes: [
                'blockBlob'
              ]
              prefixMatch: [
                '${stagingContainerName}/'
              ]
            }
            actions: {
              baseBlob: {
                delete: {
                  daysAfterModificationGreaterThan: stagingRetentionDays
                }
              }
            }
          }
        }
      ]
    }
  }
  dependsOn: [
    containers
  ]
}

output name string = account.name
output id string = account.id
output blobEndpoint string = account.properties.primaryEndpoints.blob
output tableEndpoint string = account.properties.primaryEndpoints.table
