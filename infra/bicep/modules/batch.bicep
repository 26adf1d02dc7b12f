// Azure Batch account (Batch service pool allocation, Entra ID only) with identity-based
// auto-storage, and the default pool of the azure-batch provider. The pool is declared here rather
// than created by the provider because only the management plane can give a pool a user-assigned
// identity, and nodes need one to pull the worker image from the registry without a password.

param accountName string
param location string
param tags object = {}

@description('Resource id of the user-assigned identity (account identity, auto-storage and pool nodes).')
param identityId string

@description('Principal id of the same identity, granted the Batch data-plane role.')
param principalId string

@description('Resource id of the auto-storage account (shared keys disabled, hence identity auth).')
param storageAccountId string

@description('Pool id; the app setting AZURE_BATCH_POOL_ID points the provider at it.')
param poolId string

param vmSize string = 'Standard_D2s_v3'

@description('Marketplace image of the pool nodes; must be container-capable and match nodeAgentSkuId.')
param imageReference object = {
  publisher: 'microsoft-dsvm'
  offer: 'ubuntu-hpc'
  sku: '2404'
  version: 'latest'
}
param nodeAgentSkuId string = 'batch.node.ubuntu 24.04'

@description('Tasks that run at once on one node (the seed\'s max_tasks_per_node).')
param taskSlotsPerNode int = 4

@description('Upper bound of the autoscale formula (the seed\'s min(10, $PendingTasks)).')
param maxNodes int = 10

@description('Registry the nodes log in to with the identity (no image is pre-fetched: the image name changes with every deployment).')
param registryLoginServer string

resource account 'Microsoft.Batch/batchAccounts@2024-07-01' = {
  name: accountName
  location: location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    poolAllocationMode: 'BatchService'
    publicNetworkAccess: 'Enabled'
    // No SharedKey: the provider authenticates with Entra ID (AzureIdentityCredentialAdapter).
    allowedAuthenticationModes: [
      'AAD'
      'TaskAuthenticationToken'
    ]
    autoStorage: {
      storageAccountId: storageAccountId
      // The storage account refuses shared keys, so Batch must reach it with the identity.
      authenticationMode: 'BatchAccountManagedIdentity'
      nodeIdentityReference: {
        resourceId: identityId
      }
    }
  }
}

// Autoscale from zero, shaped like the seed's min(10, $PendingTasks): one node per pending task, at
// most maxNodes. With several task slots per node this can start more nodes than needed for a burst;
// the surplus is removed at the next evaluation, and taskcompletion lets running tasks finish before a
// node goes, so scale-in never kills a job. (Dividing by the slot count would need rounding, which the
// formula language leaves to the service; the simple form is predictable.)
var autoScaleFormula = '''
$samples = $PendingTasks.GetSamplePercent(TimeInterval_Minute * 5);
$pending = $samples < 70 ? max(0, $PendingTasks.GetSample(1)) : max($PendingTasks.GetSample(1), avg($PendingTasks.GetSample(TimeInterval_Minute * 5)));
$TargetDedicatedNodes = min({0}, $pending);
$TargetLowPriorityNodes = 0;
$NodeDeallocationOption = taskcompletion;
'''

resource pool 'Microsoft.Batch/batchAccounts/pools@2024-07-01' = {
  parent: account
  name: poolId
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    vmSize: vmSize
    taskSlotsPerNode: taskSlotsPerNode
    taskSchedulingPolicy: {
      nodeFillType: 'Pack'
    }
    interNodeCommunication: 'Disabled'
    deploymentConfiguration: {
      virtualMachineConfiguration: {
        imageReference: imageReference
        nodeAgentSkuId: nodeAgentSkuId
        containerConfiguration: {
          type: 'DockerCompatible'
          containerRegistries: [
            {
              registryServer: registryLoginServer
              identityReference: {
                resourceId: identityId
              }
            }
          ]
        }
      }
    }
    scaleSettings: {
      autoScale: {
        formula: format(autoScaleFormula, maxNodes)
        evaluationInterval: 'PT5M'
      }
    }
  }
}

// Azure Batch Data Contributor (6aaa78f1-f7de-44ca-8722-c64a23943cae): @azure/batch job and task calls
// (create, list, get, terminate, delete, list task files) on the data plane, and pool reads/creation
// for the provider's ensure-pool step.
resource batchDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id, principalId, '6aaa78f1-f7de-44ca-8722-c64a23943cae')
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '6aaa78f1-f7de-44ca-8722-c64a23943cae')
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

output name string = account.name
output endpoint string = 'https://${account.properties.accountEndpoint}'
output poolId string = pool.name
