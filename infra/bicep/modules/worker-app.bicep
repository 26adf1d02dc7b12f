// One worker container app (actor or spark): consumes its Service Bus queue, no ingress, scaled from
// zero by a KEDA azure-servicebus rule. Used twice by main.bicep with the seed's targets (actor 5
// messages per replica, spark 3, at most 10 replicas).
//
// Two identities, split by who may use them:
// - the worker identity (lifecycle Main) is the one the code's DefaultAzureCredential gets tokens for:
//   receive from the worker queues, job tables, results/payloads, read artifacts;
// - the platform identity (lifecycle None) pulls the image and authenticates the scale rule. Reading
//   queue counts needs Manage (Azure Service Bus Data Owner), so this identity is never made available
//   to the containers: a command running in a worker cannot obtain a token for it.

param name string
param location string
param tags object = {}

@description('azd service this app is deployed by (azure.yaml).')
param azdServiceName string

param environmentId string

@description('Resource id of the worker identity: the only identity the containers can get tokens for (Service Bus receive, Storage).')
param identityId string

@description('Resource id of the platform identity: registry pull and the KEDA scale rule only, never available to the containers.')
param platformIdentityId string

param registryLoginServer string

@description('Image to run; empty on the first provision (before azd has built one) uses a public placeholder that azd deploy replaces.')
param image string = ''

@description('Queue this app consumes and scales on.')
param queueName string

@description('Service Bus namespace NAME (not host name): KEDA\'s azure-servicebus scaler needs it with identity auth.')
param serviceBusNamespace string

@description('KEDA target: messages per replica (active messages, locked ones included).')
@minValue(1)
param messagesPerReplica int

@minValue(0)
param minReplicas int = 0

@minValue(1)
@maxValue(300)
param maxReplicas int = 10

@description('Seconds without messages before scaling to zero; also damps flapping.')
param cooldownPeriodSec int = 300

@description('Seconds between KEDA queue-depth checks.')
param pollingIntervalSec int = 30

@description('WORKER_SHUTDOWN_GRACE_SEC; the platform grace period is set a little longer so the worker can release unfinished messages before SIGKILL.')
param shutdownGraceSec int

@description('Environment variables, name -> value.')
param env object

param cpu string = '0.5'
param memory string = '1Gi'

var placeholderImage = 'mcr.microsoft.com/k8se/quickstart:latest'

resource app 'Microsoft.App/containerApps@2025-01-01' = {
  name: name
  location: location
  tags: union(tags, {
    'azd-service-name': azdServiceName
  })
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
      '${platformIdentityId}': {}
    }
  }
  properties: {
    environmentId: environmentId
    workloadProfileName: 'Consumption'
    configuration: {
      activeRevisionsMode: 'Single'
      // Workers only consume queues: no ingress, nothing to call from outside.
      registries: [
        {
          server: registryLoginServer
          identity: platformIdentityId
        }
      ]
      // Which identity the code may use (API 2024-02-02-preview+): the platform identity is 'None', i.e.
      // only the platform uses it (image pull, scale rule); the worker identity serves the main container.
      identitySettings: [
        {
          identity: platformIdentityId
          lifecycle: 'None'
        }
        {
          identity: identityId
          lifecycle: 'Main'
        }
      ]
    }
    template: {
      // Scale-in and new revisions send SIGTERM; the worker stops taking messages, lets in-flight jobs
      // finish for WORKER_SHUTDOWN_GRACE_SEC, then abandons the rest so they are redelivered at once.
      // SIGKILL follows after this period (Container Apps default: 30 s).
      terminationGracePeriodSeconds: shutdownGraceSec + 10
      containers: [
        {
          name: 'worker'
          image: empty(image) ? placeholderImage : image
          resources: {
            cpu: json(cpu)
            memory: memory
          }
          env: [for e in items(env): {
            name: e.key
            value: e.value
          }]
        }
      ]
      scale: {
        minReplicas: minReplicas
        maxReplicas: maxReplicas
        cooldownPeriod: cooldownPeriodSec
        pollingInterval: pollingIntervalSec
        rules: [
          {
            name: 'servicebus-${queueName}'
            custom: {
              type: 'azure-servicebus'
              // Managed identity instead of a connection-string secret (API 2024-02-02-preview+): the
              // platform identity, whose Data Owner role on this queue the code never gets.
              identity: platformIdentityId
              metadata: {
                namespace: serviceBusNamespace
                queueName: queueName
                messageCount: string(messagesPerReplica)
                // Wake from zero on the first message.
                activationMessageCount: '0'
              }
            }
          }
        ]
      }
    }
  }
}

output name string = app.name
output id string = app.id
