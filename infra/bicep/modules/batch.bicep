// Azure Batch account (Batch service pool allocation, Entra ID only) and the default pool of the
// azure-batch provider. The pool is declared here rather than created by the provider because only the
// management plane can give a pool a user-assigned identity, and nodes need one to pull the worker
// image from the registry without a password.
//
// Least privilege: the account has no identity and no auto-storage (the provider stages inputs and
// collects outputs in the job-data account through SAS URLs it signs itself). The pool's identity holds
// AcrPull on the registry and nothing else (modules/access.bicep): code on a node that reaches the
// node's identity endpoint can pull images, not read job data, queues or secrets. A task writes its
// outputs only through the per-job SAS the Function App hands it.

param accountName string
param location string
param tags object = {}

@description('Resource id of the pool nodes\' user-assigned identity (image pull only).')
param poolIdentityId string

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
  properties: {
    poolAllocationMode: 'BatchService'
    publicNetworkAccess: 'Enabled'
    // No SharedKey: the provider authenticates with Entra ID (AzureIdentityCredentialAdapter). No
    // TaskAuthenticationToken either: tasks never call the Batch service, so none can hold a token for it.
    allowedAuthenticationModes: [
      'AAD'
    ]
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
      '${poolIdentityId}': {}
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
                resourceId: poolIdentityId
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

output name string = account.name
output endpoint string = 'https://${account.properties.accountEndpoint}'
output poolId string = pool.name
