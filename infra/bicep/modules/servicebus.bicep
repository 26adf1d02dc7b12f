// Service Bus namespace and the five job queues (intake, actor, spark, ml, batch). Local (SAS) auth is
// disabled; the Function App, the workers and the KEDA scale rules each use their own identity, with
// roles on single queues granted in modules/access.bicep.

param name string
param location string
param tags object = {}

@description('Standard: the tier with scheduled messages and dead-letter handling the orchestrator relies on; it carries a fixed monthly base charge (see docs/deploy.md).')
@allowed([
  'Standard'
  'Premium'
])
param sku string = 'Standard'

@description('Queue names (the QUEUE_* settings).')
param queueNames array

@description('Equal to the QUEUE_MAX_DELIVERIES app setting and to host.json maxDequeueCount.')
@minValue(1)
@maxValue(100)
param maxDeliveryCount int

@description('Message lock in seconds; equal to WORKER_LOCK_SEC (workers renew the lock while a job runs).')
@minValue(5)
@maxValue(300)
param lockDurationSec int

@description('Time a job message may wait unconsumed before it is dead-lettered.')
param messageTimeToLive string = 'P7D'

resource namespace 'Microsoft.ServiceBus/namespaces@2024-01-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: sku
    tier: sku
  }
  properties: {
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
    publicNetworkAccess: 'Enabled'
  }
}

resource queues 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' = [for q in queueNames: {
  parent: namespace
  name: q
  properties: {
    // Equal to QUEUE_MAX_DELIVERIES: Functions retry policies do not apply to Service Bus triggers, so
    // this count IS the retry budget of a job message. After it the message goes to the dead-letter
    // queue, where the reconciler (and an operator) can see it instead of it looping forever.
    maxDeliveryCount: maxDeliveryCount
    // Equal to WORKER_LOCK_SEC: long enough that a healthy consumer renews well before expiry (the
    // workers renew; the Functions host auto-renews), short enough that a crashed replica's message is
    // redelivered within a minute instead of after the 5-minute maximum.
    lockDuration: 'PT${lockDurationSec}S'
    // An expired job message must not vanish: dead-lettering keeps it visible so the job can be failed
    // with a reason or re-sent, instead of staying "queued" forever.
    deadLetteringOnMessageExpiration: true
    defaultMessageTimeToLive: messageTimeToLive
    // Duplicate detection stays off: it cannot be changed after creation and needs a message id on
    // every send. Redelivery is already harmless: job ids are idempotent and the state machine rejects
    // a second dispatch of the same job.
    requiresDuplicateDetection: false
    // Sessions would serialise work per session id; jobs are independent.
    requiresSession: false
    enablePartitioning: false
    enableBatchedOperations: true
    maxSizeInMegabytes: 1024
  }
}]

output name string = namespace.name
output id string = namespace.id
// The host name only (no scheme, no port): the form ServiceBus__fullyQualifiedNamespace expects.
// Taken from the endpoint rather than assuming servicebus.windows.net, so sovereign clouds work.
output fullyQualifiedNamespace string = split(replace(namespace.properties.serviceBusEndpoint, 'https://', ''), ':')[0]
