// Every role assignment of the deployment, in one file, one resource per (identity, role, scope kind).
// docs/deploy.md "Role assignments" lists each one with the reason, and test/infra checks the two
// against each other in both directions. Rules:
// - four identities, never shared: the Function App (api), the worker code (worker), the worker
//   platform (image pull + KEDA, never available to code) and the Batch pool nodes (pool);
// - data-plane roles only, each on the narrowest scope Bicep can name: a single table, container or
//   Service Bus queue, an account only where the action exists only at account level;
// - no Owner/Contributor, and "Data Owner" only where a narrower role cannot do the call (noted).

@description('Function App identity: HTTP API, classify, dispatch, pollers, reconciler, dead-letter handlers.')
param apiPrincipalId string

@description('Worker identity: the code in the actor/spark container apps.')
param workerPrincipalId string

@description('Worker platform identity: image pull and KEDA scale rules of the worker apps (lifecycle None).')
param workerPlatformPrincipalId string

@description('Batch pool node identity: image pull only.')
param poolPrincipalId string

@description('Optional: the person or pipeline running the deployment (Key Vault Secrets Officer). Empty: none.')
param deployerPrincipalId string = ''

param jobStorageAccountName string
param hostStorageAccountName string

@description('Tables the Function App reads and writes: jobs, job index, idempotency keys.')
param apiTableNames array

@description('Tables the workers update: jobs and job index (never idempotency keys).')
param workerTableNames array

@description('Tables the workers only read: webhook subscriptions (to decide whether a transition needs a delivery).')
param workerReadTableNames array

@description('Containers the Function App reads and writes: results, payloads (claim check), Batch staging.')
param apiContainerNames array

@description('Containers the workers read and write: results (logs, outputs), payloads (claim check, deleted on completion).')
param workerContainerNames array

@description('Container the workers only read: Essedum input artifacts (storage "local").')
param artifactsContainerName string

param serviceBusNamespaceName string

@description('Queues the Function App sends to, receives from (triggers, dead-letter handlers) and counts: all five.')
param apiQueueNames array

@description('Queues the worker apps consume: actor-jobs and spark-jobs.')
param workerQueueNames array

@description('Queues the worker apps only send to: webhooks (deliveries of the transitions they commit).')
param workerSendQueueNames array

param batchAccountName string
param registryName string
param keyVaultName string
param appInsightsName string

@description('Existing Azure ML workspace in this resource group; empty: no Azure ML role.')
param azureMlWorkspaceName string = ''

// ---- Scopes (existing resources, declared by the other modules) ----------------------------------
resource jobStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: jobStorageAccountName
}

resource jobTableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' existing = {
  parent: jobStorage
  name: 'default'
}

resource jobBlobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' existing = {
  parent: jobStorage
  name: 'default'
}

resource apiTables 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' existing = [for t in apiTableNames: {
  parent: jobTableService
  name: t
}]

resource workerTables 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' existing = [for t in workerTableNames: {
  parent: jobTableService
  name: t
}]

resource workerReadTables 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' existing = [for t in workerReadTableNames: {
  parent: jobTableService
  name: t
}]

resource apiContainers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = [for c in apiContainerNames: {
  parent: jobBlobService
  name: c
}]

resource workerContainers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = [for c in workerContainerNames: {
  parent: jobBlobService
  name: c
}]

resource artifactsContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  parent: jobBlobService
  name: artifactsContainerName
}

resource hostStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: hostStorageAccountName
}

resource serviceBus 'Microsoft.ServiceBus/namespaces@2024-01-01' existing = {
  name: serviceBusNamespaceName
}

resource apiQueues 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' existing = [for q in apiQueueNames: {
  parent: serviceBus
  name: q
}]

resource workerQueues 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' existing = [for q in workerQueueNames: {
  parent: serviceBus
  name: q
}]

resource workerSendQueues 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' existing = [for q in workerSendQueueNames: {
  parent: serviceBus
  name: q
}]

resource batchAccount 'Microsoft.Batch/batchAccounts@2024-07-01' existing = {
  name: batchAccountName
}

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' existing = {
  name: registryName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource workspace 'Microsoft.MachineLearningServices/workspaces@2024-04-01' existing = if (!empty(azureMlWorkspaceName)) {
  name: azureMlWorkspaceName
}

// ---- Function App (api) ---------------------------------------------------------------------------

// Storage Blob Data Owner (b7e6dc6d-f1e8-4753-8033-0f276bb0955b) on the HOST account: the Functions host
// documents this role for identity-based AzureWebJobsStorage (it creates its containers and manages
// blob leases); the same account holds the Flex deployment package. No other identity has a role there.
resource apiHostStorage 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(hostStorage.id, apiPrincipalId, 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b')
  scope: hostStorage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b')
    principalId: apiPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Storage Table Data Contributor (0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3) per table: job records, index
// rows, idempotency keys (entity CRUD and batch transactions).
resource apiTableData 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (t, i) in apiTableNames: {
  name: guid(apiTables[i].id, apiPrincipalId, '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3')
  scope: apiTables[i]
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3')
    principalId: apiPrincipalId
    principalType: 'ServicePrincipal'
  }
}]

// Storage Blob Data Contributor (ba92f5b4-2d11-453d-a403-e96b0029c9fe) per container: results and logs
// (read for the API, written by providers), claim-checked payloads, Batch staging (put, delete). A
// user-delegation SAS grants at most what its signer holds, so the Batch task's write SAS on its own
// result blobs works only because of this role on the results container.
resource apiBlobData 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (c, i) in apiContainerNames: {
  name: guid(apiContainers[i].id, apiPrincipalId, 'ba92f5b4-2d11-453d-a403-e96b0029c9fe')
  scope: apiContainers[i]
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'ba92f5b4-2d11-453d-a403-e96b0029c9fe')
    principalId: apiPrincipalId
    principalType: 'ServicePrincipal'
  }
}]

// Storage Blob Delegator (db58b8e5-c6ad-4a2a-8342-4190687cbf4a) on the job-data account: Get User
// Delegation Key exists only at account level. It signs the per-job SAS URLs of Batch tasks; the key
// itself grants nothing, the SAS is bounded by the container roles above.
resource apiBlobDelegator 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(jobStorage.id, apiPrincipalId, 'db58b8e5-c6ad-4a2a-8342-4190687cbf4a')
  scope: jobStorage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'db58b8e5-c6ad-4a2a-8342-4190687cbf4a')
    principalId: apiPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Azure Service Bus Data Owner (090c5cfd-751d-490a-894a-3ce6f1109419) per queue, not on the namespace:
// the Function App sends to every queue, receives from jobqueue/ml-jobs/batch-jobs and every dead-letter
// queue, and reads queue runtime properties (GET /queues/status, health, trigger scaling), which needs
// the Manage claim that Data Sender/Receiver do not carry.
resource apiQueueOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (q, i) in apiQueueNames: {
  name: guid(apiQueues[i].id, apiPrincipalId, '090c5cfd-751d-490a-894a-3ce6f1109419')
  scope: apiQueues[i]
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '090c5cfd-751d-490a-894a-3ce6f1109419')
    principalId: apiPrincipalId
    principalType: 'ServicePrincipal'
  }
}]

// Azure Batch Data Contributor (6aaa78f1-f7de-44ca-8722-c64a23943cae) on the Batch account (the narrowest
// scope Batch RBAC has): job, task and pool calls of the azure-batch provider.
resource apiBatch 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(batchAccount.id, apiPrincipalId, '6aaa78f1-f7de-44ca-8722-c64a23943cae')
  scope: batchAccount
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '6aaa78f1-f7de-44ca-8722-c64a23943cae')
    principalId: apiPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Key Vault Secrets User (4633458b-17de-408a-b874-0445c86b69e6) on the vault: resolves the
// @Microsoft.KeyVault references (keyVaultReferenceIdentity). The vault holds only the SageMaker and
// Vertex credentials, all of which the Function App uses; a per-secret scope would have to exist at
// deployment time, while the operator may set the secrets afterwards.
resource apiSecrets 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, apiPrincipalId, '4633458b-17de-408a-b874-0445c86b69e6')
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '4633458b-17de-408a-b874-0445c86b69e6')
    principalId: apiPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Monitoring Metrics Publisher (3913510d-42f4-4e42-8a64-420c390055eb) on Application Insights: telemetry
// with Entra ID auth (local auth is disabled on the component).
resource apiTelemetry 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, apiPrincipalId, '3913510d-42f4-4e42-8a64-420c390055eb')
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '3913510d-42f4-4e42-8a64-420c390055eb')
    principalId: apiPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// The workers send their traces, metrics and logs to the same component with their own identity.
resource workerTelemetry 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, workerPrincipalId, '3913510d-42f4-4e42-8a64-420c390055eb')
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '3913510d-42f4-4e42-8a64-420c390055eb')
    principalId: workerPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// AzureML Data Scientist (f6c7c914-8db3-469d-8ca1-694a8f32e121) on the workspace, when one is configured:
// create, cancel and read jobs without rights to change the workspace or its computes.
resource apiAzureMl 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(azureMlWorkspaceName)) {
  name: guid(workspace.id, apiPrincipalId, 'f6c7c914-8db3-469d-8ca1-694a8f32e121')
  scope: workspace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'f6c7c914-8db3-469d-8ca1-694a8f32e121')
    principalId: apiPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// ---- Worker code (worker) -------------------------------------------------------------------------

// Storage Table Data Contributor (0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3) on the jobs and index tables:
// claim, heartbeat and finish jobs. Not the idempotency table.
resource workerTableData 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (t, i) in workerTableNames: {
  name: guid(workerTables[i].id, workerPrincipalId, '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3')
  scope: workerTables[i]
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3')
    principalId: workerPrincipalId
    principalType: 'ServicePrincipal'
  }
}]

// Storage Table Data Reader (76199698-9eea-4c19-bc75-cec21354c6b6) on the webhook subscriptions table:
// a transition a worker commits is matched against the subscriptions; workers never change them.
resource workerTableRead 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (t, i) in workerReadTableNames: {
  name: guid(workerReadTables[i].id, workerPrincipalId, '76199698-9eea-4c19-bc75-cec21354c6b6')
  scope: workerReadTables[i]
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '76199698-9eea-4c19-bc75-cec21354c6b6')
    principalId: workerPrincipalId
    principalType: 'ServicePrincipal'
  }
}]

// Storage Blob Data Contributor (ba92f5b4-2d11-453d-a403-e96b0029c9fe) on results and payloads: write
// results, logs and outputs; read claim-checked payloads and delete them when the message completes.
resource workerBlobData 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (c, i) in workerContainerNames: {
  name: guid(workerContainers[i].id, workerPrincipalId, 'ba92f5b4-2d11-453d-a403-e96b0029c9fe')
  scope: workerContainers[i]
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'ba92f5b4-2d11-453d-a403-e96b0029c9fe')
    principalId: workerPrincipalId
    principalType: 'ServicePrincipal'
  }
}]

// Storage Blob Data Reader (2a2b9908-6ea1-4ae2-8e65-a410df84e7d1) on the Essedum artifacts container:
// input artifacts of storage "local" commands are read, never written.
resource workerArtifacts 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(artifactsContainer.id, workerPrincipalId, '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1')
  scope: artifactsContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1')
    principalId: workerPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Azure Service Bus Data Receiver (4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0) on actor-jobs and spark-jobs:
// peek-lock receive, renew lock, complete, abandon, dead-letter. Workers send only to the webhooks queue (below).
resource workerQueueReceiver 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (q, i) in workerQueueNames: {
  name: guid(workerQueues[i].id, workerPrincipalId, '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0')
  scope: workerQueues[i]
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0')
    principalId: workerPrincipalId
    principalType: 'ServicePrincipal'
  }
}]

// Azure Service Bus Data Sender (69a216fc-b8fb-44d8-bc22-1f3c2cd27a39) on the webhooks queue: the
// deliveries of the transitions a worker commits. Send only: the Function App receives and delivers.
resource workerQueueSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (q, i) in workerSendQueueNames: {
  name: guid(workerSendQueues[i].id, workerPrincipalId, '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39')
  scope: workerSendQueues[i]
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39')
    principalId: workerPrincipalId
    principalType: 'ServicePrincipal'
  }
}]

// ---- Worker platform (image pull and KEDA; lifecycle None, so no container can use it) ----------

// AcrPull (7f951dda-4ed3-4680-a7ca-43fe172d538d) on the registry: the worker apps' image pull.
resource workerPlatformPull 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(registry.id, workerPlatformPrincipalId, '7f951dda-4ed3-4680-a7ca-43fe172d538d')
  scope: registry
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '7f951dda-4ed3-4680-a7ca-43fe172d538d')
    principalId: workerPlatformPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Azure Service Bus Data Owner (090c5cfd-751d-490a-894a-3ce6f1109419) on actor-jobs and spark-jobs: the
// KEDA azure-servicebus scaler reads queue runtime properties (active message count), which needs Manage.
resource workerPlatformQueueOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (q, i) in workerQueueNames: {
  name: guid(workerQueues[i].id, workerPlatformPrincipalId, '090c5cfd-751d-490a-894a-3ce6f1109419')
  scope: workerQueues[i]
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '090c5cfd-751d-490a-894a-3ce6f1109419')
    principalId: workerPlatformPrincipalId
    principalType: 'ServicePrincipal'
  }
}]

// ---- Batch pool nodes (pool) ----------------------------------------------------------------------

// AcrPull (7f951dda-4ed3-4680-a7ca-43fe172d538d) on the registry: nodes pull the worker image
// (containerRegistries with identityReference). Nothing else: outputs go through the per-job SAS.
resource poolPull 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(registry.id, poolPrincipalId, '7f951dda-4ed3-4680-a7ca-43fe172d538d')
  scope: registry
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '7f951dda-4ed3-4680-a7ca-43fe172d538d')
    principalId: poolPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// ---- Deployer -------------------------------------------------------------------------------------

// Key Vault Secrets Officer (b86a8fe4-44ce-4948-aee5-eccb2c155cd7) for the deployer, so an operator can
// write the cloud credentials; in RBAC mode not even the vault's creator can otherwise.
resource deployerSecrets 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  name: guid(vault.id, deployerPrincipalId, 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7')
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7')
    principalId: deployerPrincipalId
  }
}
