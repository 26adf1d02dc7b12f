// Cloud Job Orchestrator: everything one environment needs, in one resource group.
//
//   azd up                                  (azure.yaml; environmentName = the azd environment)
//   az deployment group create -g <rg> -f infra/bicep/main.bicep -p infra/bicep/main.parameters.json ...
//
// Every app setting below is checked against the settings catalogue (src/lib/settings-catalog.ts) by
// test/infra/bicep-contract.test.ts: a setting the code reads but Bicep does not set fails `npm test`.
targetScope = 'resourceGroup'

@minLength(1)
@maxLength(64)
@description('Name of the environment (azd environment name); seeds resource names and tags.')
param environmentName string

@description('Region of every resource. It must offer Flex Consumption, Container Apps and Batch.')
param location string = resourceGroup().location

@description('Optional: object id of the deploying user or pipeline (azd sets AZURE_PRINCIPAL_ID), given Key Vault Secrets Officer to set the cloud credentials.')
param principalId string = ''

@description('Worker image (registry/name:tag). azd fills it from SERVICE_WORKER_IMAGE_NAME after the first deploy; empty uses a placeholder until then.')
param workerImageName string = ''

// ---- Queues and delivery ------------------------------------------------------------------------
@description('QUEUE_MAX_DELIVERIES: Service Bus maxDeliveryCount of every queue (keep host.json maxDequeueCount equal).')
@minValue(1)
@maxValue(100)
param maxDeliveries int = 5

@description('WORKER_LOCK_SEC: Service Bus lock duration; workers renew it while a job runs.')
@minValue(5)
@maxValue(300)
param workerLockSec int = 60

@description('WORKER_SHUTDOWN_GRACE_SEC: time in-flight jobs get after SIGTERM.')
@minValue(0)
@maxValue(590)
param workerShutdownGraceSec int = 25

// ---- Worker autoscaling (the seed's KEDA targets) ------------------------------------------------
@description('Actor worker: active messages per replica (seed: 5).')
param actorMessagesPerReplica int = 5

@description('Spark worker: active messages per replica (seed: 3).')
param sparkMessagesPerReplica int = 3

@description('Replica ceiling of each worker (seed: 10). The floor is 0: idle workers cost nothing.')
param workerMaxReplicas int = 10

@description('Seconds of empty queue before a worker scales in to zero (KEDA cooldownPeriod).')
param workerCooldownSec int = 300

// ---- Routing -------------------------------------------------------------------------------------
@description('ML_JOBS_PROVIDER: who runs ml-jobs in Azure.')
@allowed([
  'local'
  'azure-batch'
  'azure-ml'
  'sagemaker'
  'vertex'
])
param mlJobsProvider string = 'azure-batch'

@description('BATCH_JOBS_PROVIDER: who runs batch-jobs in Azure.')
@allowed([
  'local'
  'azure-batch'
])
param batchJobsProvider string = 'azure-batch'

@description('CLASSIFIER_PRESET: readme (the seed README formula) or reference (the seed code weighting).')
@allowed([
  'readme'
  'reference'
])
param classifierPreset string = 'readme'

// ---- Function App --------------------------------------------------------------------------------
@description('Flex Consumption instance ceiling.')
param functionMaximumInstanceCount int = 100

@description('Flex Consumption instance memory (MB).')
param functionInstanceMemoryMB int = 2048

@description('Log Analytics daily ingestion cap in GB (-1 = none); bounds what a log loop can cost.')
param logDailyCapGb int = 1

// ---- Azure Batch ---------------------------------------------------------------------------------
param batchVmSize string = 'Standard_D2s_v3'
param batchMaxNodes int = 10
param batchTaskSlotsPerNode int = 4

@description('Pool image as publisher:offer:sku:version (container-capable). Ubuntu 22.04 node agents retire in 2027, hence 24.04.')
param batchImage string = 'microsoft-dsvm:ubuntu-hpc:2404:latest'
param batchNodeAgentSku string = 'batch.node.ubuntu 24.04'

// ---- Other clouds (optional; empty = provider not configured) ------------------------------------
@description('SAGEMAKER_REGION; setting it enables the SageMaker provider (credentials from Key Vault).')
param sageMakerRegion string = ''
param sageMakerRoleArn string = ''
param sageMakerOutputS3Uri string = ''
@description('SAGEMAKER_S3_ENDPOINT: S3 endpoint override for datasets and exports (VPC endpoint, S3-compatible store); empty = regional S3.')
param sageMakerS3Endpoint string = ''
@description('SAGEMAKER_RUNTIME_ENDPOINT: SageMaker Runtime endpoint override for endpoint invocations; empty = regional runtime.')
param sageMakerRuntimeEndpoint string = ''

@secure()
@description('Optional: written to Key Vault as sagemaker-access-key-id. Leave empty to set the secret yourself.')
param sageMakerAccessKeyId string = ''

@secure()
@description('Optional: written to Key Vault as sagemaker-secret-access-key.')
param sageMakerSecretAccessKey string = ''

@description('VERTEX_PROJECT; with vertexLocation it enables the Vertex AI provider.')
param vertexProject string = ''
param vertexLocation string = ''

@secure()
@description('Optional: service-account key JSON, written to Key Vault as vertex-credentials-json.')
param vertexCredentialsJson string = ''

@description('Name of an existing Azure ML workspace in this resource group; enables the azure-ml provider.')
param azureMlWorkspaceName string = ''
param azureMlDefaultCompute string = ''
@description('Optional: datastore folder Azure ML dataset/model exports copy into, e.g. azureml://datastores/workspaceblobstore/paths/cjo-exports. Empty: exports are refused.')
param azureMlExportPath string = ''

// ---- Names ---------------------------------------------------------------------------------------
var token = toLower(uniqueString(subscription().id, resourceGroup().id, environmentName))
var tags = {
  'azd-env-name': environmentName
  app: 'cloud-job-orchestrator'
}

// The names the code uses (defaults of the QUEUE_*, *_TABLE and *_CONTAINER settings). The contract
// test reads these objects and checks them against the catalogue defaults.
var queueNames = {
  intake: 'jobqueue'
  actor: 'actor-jobs'
  spark: 'spark-jobs'
  ml: 'ml-jobs'
  batch: 'batch-jobs'
  webhooks: 'webhooks'
}
var tableNames = {
  jobs: 'jobshards'
  idempotency: 'idempotency'
  webhookSubscriptions: 'webhooksubs'
  webhookDeliveries: 'webhookdeliveries'
  capacity: 'capacity'
}
// Containers of the job-data account. The deployment package lives in the host account instead.
var containerNames = {
  results: 'job-results'
  payloads: 'job-payloads'
  artifacts: 'essedum-artifacts'
  batchStaging: 'batch-staging'
}
var deploymentContainerName = 'app-package'
var batchPoolId = 'cjo-pool'

var sageMakerEnabled = !empty(sageMakerRegion)
var vertexEnabled = !empty(vertexProject) && !empty(vertexLocation)
var azureMlEnabled = !empty(azureMlWorkspaceName)
var localProviderUsed = mlJobsProvider == 'local' || batchJobsProvider == 'local'
var azureBatchUsed = mlJobsProvider == 'azure-batch' || batchJobsProvider == 'azure-batch'
// Once a day at 03:17: a poller with nothing to poll still runs, just rarely.
var idlePollSchedule = '0 17 3 * * *'

// ---- Resources -----------------------------------------------------------------------------------
// One identity per component, never shared (docs/deploy.md "Role assignments"; modules/access.bicep).
module apiIdentity 'modules/identity.bicep' = {
  name: 'identity-api'
  params: {
    name: 'id-cjo-api-${token}'
    location: location
    tags: tags
  }
}

module workerIdentity 'modules/identity.bicep' = {
  name: 'identity-worker'
  params: {
    name: 'id-cjo-worker-${token}'
    location: location
    tags: tags
  }
}

module workerPlatformIdentity 'modules/identity.bicep' = {
  name: 'identity-worker-platform'
  params: {
    name: 'id-cjo-workerplatform-${token}'
    location: location
    tags: tags
  }
}

module poolIdentity 'modules/identity.bicep' = {
  name: 'identity-pool'
  params: {
    name: 'id-cjo-pool-${token}'
    location: location
    tags: tags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    logAnalyticsName: 'log-cjo-${token}'
    appInsightsName: 'appi-cjo-${token}'
    location: location
    tags: tags
    dailyQuotaGb: logDailyCapGb
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    name: 'stcjo${take(token, 17)}'
    location: location
    tags: tags
    tableNames: [
      tableNames.jobs
      tableNames.idempotency
      tableNames.webhookSubscriptions
      tableNames.webhookDeliveries
      tableNames.capacity
    ]
    containerNames: [
      containerNames.results
      containerNames.payloads
      containerNames.artifacts
      containerNames.batchStaging
    ]
    stagingContainerName: containerNames.batchStaging
  }
}

module hostStorage 'modules/host-storage.bicep' = {
  name: 'host-storage'
  params: {
    name: 'sthcjo${take(token, 16)}'
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
  }
}

module serviceBus 'modules/servicebus.bicep' = {
  name: 'servicebus'
  params: {
    name: 'sb-cjo-${token}'
    location: location
    tags: tags
    queueNames: [
      queueNames.intake
      queueNames.actor
      queueNames.spark
      queueNames.ml
      queueNames.batch
      queueNames.webhooks
    ]
    maxDeliveryCount: maxDeliveries
    lockDurationSec: workerLockSec
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  params: {
    name: 'kv-cjo-${take(token, 14)}'
    location: location
    tags: tags
    secretValues: {
      'sagemaker-access-key-id': sageMakerAccessKeyId
      'sagemaker-secret-access-key': sageMakerSecretAccessKey
      'vertex-credentials-json': vertexCredentialsJson
    }
  }
}

module registry 'modules/registry.bicep' = {
  name: 'registry'
  params: {
    name: 'crcjo${token}'
    location: location
    tags: tags
  }
}

module batch 'modules/batch.bicep' = {
  name: 'batch'
  params: {
    accountName: 'bacjo${take(token, 19)}'
    location: location
    tags: tags
    poolIdentityId: poolIdentity.outputs.id
    poolId: batchPoolId
    vmSize: batchVmSize
    imageReference: {
      publisher: split(batchImage, ':')[0]
      offer: split(batchImage, ':')[1]
      sku: split(batchImage, ':')[2]
      version: split(batchImage, ':')[3]
    }
    nodeAgentSkuId: batchNodeAgentSku
    taskSlotsPerNode: batchTaskSlotsPerNode
    maxNodes: batchMaxNodes
    registryLoginServer: registry.outputs.loginServer
  }
}

// Every role assignment (each identity, role and scope is listed in docs/deploy.md with the reason).
module access 'modules/access.bicep' = {
  name: 'access'
  params: {
    apiPrincipalId: apiIdentity.outputs.principalId
    workerPrincipalId: workerIdentity.outputs.principalId
    workerPlatformPrincipalId: workerPlatformIdentity.outputs.principalId
    poolPrincipalId: poolIdentity.outputs.principalId
    deployerPrincipalId: principalId
    jobStorageAccountName: storage.outputs.name
    hostStorageAccountName: hostStorage.outputs.name
    apiTableNames: [
      tableNames.jobs
      tableNames.idempotency
      tableNames.webhookSubscriptions
      tableNames.webhookDeliveries
      tableNames.capacity
    ]
    // Workers commit their jobs' completion, and with it (same table, same transaction) the job's
    // cost-ledger row.
    workerTableNames: [
      tableNames.jobs
    ]
    workerReadTableNames: [
      tableNames.webhookSubscriptions
    ]
    apiContainerNames: [
      containerNames.results
      containerNames.payloads
      containerNames.batchStaging
    ]
    workerContainerNames: [
      containerNames.results
      containerNames.payloads
    ]
    artifactsContainerName: containerNames.artifacts
    serviceBusNamespaceName: serviceBus.outputs.name
    apiQueueNames: [
      queueNames.intake
      queueNames.actor
      queueNames.spark
      queueNames.ml
      queueNames.batch
      queueNames.webhooks
    ]
    workerQueueNames: [
      queueNames.actor
      queueNames.spark
    ]
    workerSendQueueNames: [
      queueNames.webhooks
    ]
    // The pool starts with zero nodes, so AcrPull of the pool identity is in place long before a node
    // pulls; the account must exist before its role assignment, hence the output (an implicit dependsOn).
    batchAccountName: batch.outputs.name
    registryName: registry.outputs.name
    keyVaultName: keyVault.outputs.name
    appInsightsName: monitoring.outputs.appInsightsName
    azureMlWorkspaceName: azureMlWorkspaceName
  }
}

// ---- Settings shared by the Function App and the workers -----------------------------------------
@description('Let the Essedum /api/execute route run commands (in the workers or on Azure Batch, never in the Function App).')
param essedumExecuteEnabled bool = false

@description('Essedum adapter_instance → provider map, JSON, e.g. {"azureml-prod":{"provider":"azure-ml"}}.')
param essedumAdapters string = '{}'

@description('Provider for Essedum adapter instances not in essedumAdapters (azure-ml, sagemaker or vertex); empty refuses them.')
param essedumDefaultAdapterProvider string = ''

@description('Money guard: seconds without an infer/explain call after which an endpoint the orchestrator created is undeployed; 0 turns the check off.')
@minValue(0)
param endpointIdleTtlSec int = 0

@description('Storage endpoints Essedum /execute jobs may fetch minio/s3 input artifacts from: host[:port], *.domain[:port] or IP[:port], comma-separated; empty allows none.')
param essedumStorageEndpointAllowlist string = ''

@description('Admission caps per provider (CAPACITY_LIMITS), JSON: {"<provider>": {"concurrent": n, "createsPerMin": n}}. Set SageMaker and Batch to your account quotas.')
param capacityLimits string = '{"vertex":{"createsPerMin":60},"sagemaker":{"concurrent":20},"azure-batch":{"concurrent":40},"azure-ml":{"createsPerMin":600}}'

@description('Default capacity failover chain per queue (CAPACITY_FALLBACK_CHAINS), JSON: {"ml-jobs": ["azure-ml", "local"]}.')
param capacityFallbackChains string = '{}'

@description('Hosts webhook URLs may name (WEBHOOK_HOST_ALLOWLIST): host[:port], *.domain[:port] or IP[:port], comma-separated; * admits any host (resolved addresses must still be public).')
param webhookHostAllowlist string = '*'

var sharedSettings = {
  // One JSON logger everywhere (job.id, trace and span ids on every line).
  LOG_LEVEL: 'info'
  // Identity-based connection "JobsStorage" (tables and blobs of job data; no queue URI: Azure uses
  // Service Bus, and no identity holds a Storage queue role).
  JobsStorage__tableServiceUri: storage.outputs.tableEndpoint
  JobsStorage__blobServiceUri: storage.outputs.blobEndpoint
  JobsStorage__credential: 'managedidentity'
  // Identity-based connection "ServiceBus" (triggers and the queue transport).
  ServiceBus__fullyQualifiedNamespace: serviceBus.outputs.fullyQualifiedNamespace
  ServiceBus__credential: 'managedidentity'
  JOBS_TABLE: tableNames.jobs
  TABLE_SHARDS: '16'
  RESULTS_CONTAINER: containerNames.results
  PAYLOADS_CONTAINER: containerNames.payloads
  QUEUE_TRANSPORT: 'servicebus'
  QUEUE_ACTOR: queueNames.actor
  QUEUE_SPARK: queueNames.spark
  QUEUE_MAX_DELIVERIES: string(maxDeliveries)
  CLAIM_CHECK_THRESHOLD_BYTES: '48000'
  JOB_DEFAULT_MAX_RUNTIME_SEC: '86400'
  SIMULATION_TIME_SCALE: '1'
  // The /execute gate and its input rules are read where commands are accepted (the Function App)
  // and again where they run (the workers): switching /execute off stops queued command jobs too.
  ESSEDUM_EXECUTE_ENABLED: string(essedumExecuteEnabled)
  ESSEDUM_ARTIFACTS_CONTAINER: containerNames.artifacts
  ESSEDUM_STORAGE_ENDPOINT_ALLOWLIST: essedumStorageEndpointAllowlist
  // Webhooks: a transition committed in a worker enqueues its deliveries too, so the workers read
  // the subscriptions and send to the webhooks queue; only the Function App delivers.
  QUEUE_WEBHOOKS: queueNames.webhooks
  WEBHOOK_SUBSCRIPTIONS_TABLE: tableNames.webhookSubscriptions
  WEBHOOK_SUBSCRIPTION_CACHE_SEC: '30'
  WEBHOOK_ALLOW_HTTP: 'false'
  WEBHOOK_HOST_ALLOWLIST: webhookHostAllowlist
  WEBHOOK_ALLOWED_CIDRS: ''
  // Costs: whoever commits a job's completion (Function App poller or worker) prices it; its
  // ledger row commits with it in the jobs table. Empty PRICE_TABLE: the built-in list-price estimates.
  PRICE_TABLE: ''
}

// Which user-assigned identity each host's clients use: the connections' clientId settings, and
// AZURE_CLIENT_ID for DefaultAzureCredential in any client built without an explicit client id.
var apiIdentitySettings = {
  JobsStorage__clientId: apiIdentity.outputs.clientId
  ServiceBus__clientId: apiIdentity.outputs.clientId
  AZURE_CLIENT_ID: apiIdentity.outputs.clientId
}
var workerIdentitySettings = {
  JobsStorage__clientId: workerIdentity.outputs.clientId
  ServiceBus__clientId: workerIdentity.outputs.clientId
  AZURE_CLIENT_ID: workerIdentity.outputs.clientId
}

// ---- Function App settings -----------------------------------------------------------------------
var apiBaseSettings = {
  // Host storage: its own account (modules/host-storage.bicep), identity-based (Flex Consumption has
  // no shared-key fallback here).
  AzureWebJobsStorage__accountName: hostStorage.outputs.name
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: apiIdentity.outputs.clientId
  // Application Insights with Entra ID auth (local auth is disabled on the component): the host's
  // own telemetry (host.json telemetryMode OpenTelemetry) and the app's (@azure/monitor-opentelemetry).
  APPLICATIONINSIGHTS_CONNECTION_STRING: monitoring.outputs.appInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${apiIdentity.outputs.clientId};Authorization=AAD'
  IDEMPOTENCY_TABLE: tableNames.idempotency
  QUEUE_INTAKE: queueNames.intake
  QUEUE_ML: queueNames.ml
  QUEUE_BATCH: queueNames.batch
  WEBHOOK_DELIVERIES_TABLE: tableNames.webhookDeliveries
  WEBHOOK_RETRY_SCHEDULE_SEC: '5,300,1800,7200,18000,36000,36000'
  WEBHOOK_TIMEOUT_SEC: '10'
  // Admission control and capacity failover (caps per provider from the documented quotas).
  CAPACITY_TABLE: tableNames.capacity
  CAPACITY_LIMITS: capacityLimits
  CAPACITY_WAIT_SEC: '30'
  CAPACITY_FALLBACK_CHAINS: capacityFallbackChains
  CAPACITY_RETRY_SCHEDULE_SEC: '60,300,900,1800,3600'
  BUDGETS: '[]'
  BUDGET_RECHECK_SEC: '300'
  BUDGET_CACHE_SEC: '30'
  CLASSIFIER_PRESET: classifierPreset
  ML_JOBS_PROVIDER: mlJobsProvider
  BATCH_JOBS_PROVIDER: batchJobsProvider
  MAX_BODY_BYTES: '262144'
  MAX_JSON_DEPTH: '64'
  MAX_JSON_ITEMS: '20000'
  HEALTH_CACHE_SEC: '5'
  JOB_STUCK_AFTER_SEC: '900'
  JOB_MAX_ATTEMPTS: '3'
  // Timer schedules are %SETTING% binding expressions: a missing one stops the function from loading.
  // Every tick is a billed execution on Flex Consumption, so pollers of providers this deployment does
  // not use tick once a day instead of every few seconds (see docs/deploy.md, idle cost).
  POLL_LOCAL_SCHEDULE: localProviderUsed ? '*/5 * * * * *' : idlePollSchedule
  POLL_AZURE_BATCH_SCHEDULE: azureBatchUsed ? '*/30 * * * * *' : idlePollSchedule
  POLL_AZURE_ML_SCHEDULE: azureMlEnabled ? '*/30 * * * * *' : idlePollSchedule
  POLL_SAGEMAKER_SCHEDULE: sageMakerEnabled ? '*/30 * * * * *' : idlePollSchedule
  POLL_VERTEX_SCHEDULE: vertexEnabled ? '*/30 * * * * *' : idlePollSchedule
  RECONCILE_SCHEDULE: '0 */2 * * * *'
  // Orphan reaper and cancel re-sends, run by the reconciler.
  ORPHAN_REAPER_ENABLED: 'true'
  ORPHAN_GRACE_SEC: '900'
  ORPHAN_PAGES_PER_PASS: '10'
  ORPHAN_STOPS_PER_PASS: '25'
  CANCEL_CONFIRM_TIMEOUT_SEC: '180'
  CANCEL_MAX_RESENDS: '3'
  // Essedum-compatible routes. Running commands stays off until the operator turns it on; the
  // adapters map is the operator's (never taken from a request).
  ESSEDUM_ADAPTERS: essedumAdapters
  ESSEDUM_DEFAULT_ADAPTER_PROVIDER: essedumDefaultAdapterProvider
  ESSEDUM_COMMAND_TIMEOUT_SEC: '3600'
  ENDPOINT_IDLE_TTL_SEC: string(endpointIdleTtlSec)
  // Commands run under a uid of their own (the local provider's one-shot runs read these too).
  COMMAND_SANDBOX: 'uid'
  COMMAND_UID_BASE: '61000'
  COMMAND_UID_COUNT: '64'
}

// Azure Batch provider: Entra ID auth (no account key), the pool declared in modules/batch.bicep, and
// the worker image pulled by the nodes with the pool's identity.
var batchSettings = {
  AZURE_BATCH_ACCOUNT_URL: batch.outputs.endpoint
  AZURE_BATCH_POOL_ID: batch.outputs.poolId
  AZURE_BATCH_VM_SIZE: batchVmSize
  AZURE_BATCH_TASK_SLOTS_PER_NODE: string(batchTaskSlotsPerNode)
  AZURE_BATCH_AUTOSCALE: 'true'
  AZURE_BATCH_MAX_NODES: string(batchMaxNodes)
  AZURE_BATCH_IMAGE: batchImage
  AZURE_BATCH_NODE_AGENT_SKU: batchNodeAgentSku
  AZURE_BATCH_WORKER_IMAGE: empty(workerImageName) ? '${registry.outputs.loginServer}/cjo-worker:latest' : workerImageName
  AZURE_BATCH_REGISTRY_SERVER: registry.outputs.loginServer
  // The pool's own identity (AcrPull only), never the Function App's.
  AZURE_BATCH_REGISTRY_IDENTITY_RESOURCE_ID: poolIdentity.outputs.id
  AZURE_BATCH_STAGING_CONTAINER: containerNames.batchStaging
}

// Credentials of the other clouds are Key Vault references, resolved by the platform with the
// Function App's identity (keyVaultReferenceIdentity); the values never appear in app settings.
var sageMakerSettings = sageMakerEnabled ? union({
  SAGEMAKER_REGION: sageMakerRegion
  SAGEMAKER_ACCESS_KEY_ID: '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.uri}secrets/sagemaker-access-key-id/)'
  SAGEMAKER_SECRET_ACCESS_KEY: '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.uri}secrets/sagemaker-secret-access-key/)'
}, empty(sageMakerRoleArn) ? {} : {
  SAGEMAKER_ROLE_ARN: sageMakerRoleArn
}, empty(sageMakerOutputS3Uri) ? {} : {
  SAGEMAKER_OUTPUT_S3_URI: sageMakerOutputS3Uri
}, empty(sageMakerS3Endpoint) ? {} : {
  SAGEMAKER_S3_ENDPOINT: sageMakerS3Endpoint
}, empty(sageMakerRuntimeEndpoint) ? {} : {
  SAGEMAKER_RUNTIME_ENDPOINT: sageMakerRuntimeEndpoint
}) : {}

var vertexSettings = vertexEnabled ? {
  VERTEX_PROJECT: vertexProject
  VERTEX_LOCATION: vertexLocation
  VERTEX_CREDENTIALS_JSON: '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.uri}secrets/vertex-credentials-json/)'
} : {}

var azureMlSettings = azureMlEnabled ? union({
  AZUREML_SUBSCRIPTION_ID: subscription().subscriptionId
  AZUREML_RESOURCE_GROUP: resourceGroup().name
  AZUREML_WORKSPACE: azureMlWorkspaceName
}, empty(azureMlDefaultCompute) ? {} : {
  AZUREML_DEFAULT_COMPUTE: azureMlDefaultCompute
}, empty(azureMlExportPath) ? {} : {
  AZUREML_EXPORT_PATH: azureMlExportPath
}) : {}

var apiAppSettings = union(sharedSettings, apiIdentitySettings, apiBaseSettings, batchSettings, sageMakerSettings, vertexSettings, azureMlSettings)

// ---- Worker settings -----------------------------------------------------------------------------
var workerSettings = union(sharedSettings, workerIdentitySettings, {
  // Traces, metrics and logs of the workers to the same Application Insights, with the worker
  // identity's Entra ID token (it holds Monitoring Metrics Publisher there; modules/access.bicep).
  APPLICATIONINSIGHTS_CONNECTION_STRING: monitoring.outputs.appInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${workerIdentity.outputs.clientId};Authorization=AAD'
  WORKER_CONCURRENCY: '4'
  WORKER_LOCK_SEC: string(workerLockSec)
  WORKER_HEARTBEAT_SEC: '5'
  WORKER_SHUTDOWN_GRACE_SEC: string(workerShutdownGraceSec)
  IDLE_POLL_MAX_SEC: '10'
  ESSEDUM_MAX_LOG_BYTES: '1048576'
  // Each running command gets a uid of its own; the worker image runs as root to switch to it.
  COMMAND_SANDBOX: 'uid'
  COMMAND_UID_BASE: '61000'
  COMMAND_UID_COUNT: '64'
})
var actorWorkerSettings = union(workerSettings, {
  WORKER_MODE: 'actor'
})
var sparkWorkerSettings = union(workerSettings, {
  WORKER_MODE: 'spark'
})

module functionApp 'modules/function-app.bicep' = {
  name: 'function-app'
  params: {
    name: 'func-cjo-${token}'
    planName: 'plan-cjo-${token}'
    location: location
    tags: tags
    identityId: apiIdentity.outputs.id
    deploymentStorageContainerUrl: hostStorage.outputs.deploymentContainerUrl
    appSettings: apiAppSettings
    maximumInstanceCount: functionMaximumInstanceCount
    instanceMemoryMB: functionInstanceMemoryMB
  }
  // Roles first: the host connects to storage and Service Bus with its identity on first start.
  dependsOn: [
    access
  ]
}

module containerAppsEnv 'modules/container-apps-env.bicep' = {
  name: 'container-apps-env'
  params: {
    name: 'cae-cjo-${token}'
    location: location
    tags: tags
    logAnalyticsName: monitoring.outputs.logAnalyticsName
  }
}

module actorWorker 'modules/worker-app.bicep' = {
  name: 'worker-actor'
  params: {
    name: 'ca-cjo-actor-${take(token, 8)}'
    location: location
    tags: tags
    azdServiceName: 'worker'
    environmentId: containerAppsEnv.outputs.id
    identityId: workerIdentity.outputs.id
    platformIdentityId: workerPlatformIdentity.outputs.id
    registryLoginServer: registry.outputs.loginServer
    image: workerImageName
    queueName: queueNames.actor
    serviceBusNamespace: serviceBus.outputs.name
    messagesPerReplica: actorMessagesPerReplica
    maxReplicas: workerMaxReplicas
    cooldownPeriodSec: workerCooldownSec
    shutdownGraceSec: workerShutdownGraceSec
    env: actorWorkerSettings
  }
  // Roles first: image pull, scale rule and the worker's first receive use them.
  dependsOn: [
    access
  ]
}

module sparkWorker 'modules/worker-app.bicep' = {
  name: 'worker-spark'
  params: {
    name: 'ca-cjo-spark-${take(token, 8)}'
    location: location
    tags: tags
    azdServiceName: 'worker-spark'
    environmentId: containerAppsEnv.outputs.id
    identityId: workerIdentity.outputs.id
    platformIdentityId: workerPlatformIdentity.outputs.id
    registryLoginServer: registry.outputs.loginServer
    image: workerImageName
    queueName: queueNames.spark
    serviceBusNamespace: serviceBus.outputs.name
    messagesPerReplica: sparkMessagesPerReplica
    maxReplicas: workerMaxReplicas
    cooldownPeriodSec: workerCooldownSec
    shutdownGraceSec: workerShutdownGraceSec
    env: sparkWorkerSettings
  }
  // Roles first: image pull, scale rule and the worker's first receive use them.
  dependsOn: [
    access
  ]
}

// ---- Outputs (azd stores them in the environment's .env) -----------------------------------------
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = subscription().tenantId
output AZURE_RESOURCE_GROUP string = resourceGroup().name
output AZURE_CONTAINER_REGISTRY_ENDPOINT string = registry.outputs.loginServer
output AZURE_CONTAINER_REGISTRY_NAME string = registry.outputs.name
output AZURE_CONTAINER_APPS_ENVIRONMENT_ID string = containerAppsEnv.outputs.id
output API_BASE_URL string = 'https://${functionApp.outputs.defaultHostName}/api'
output FUNCTION_APP_NAME string = functionApp.outputs.name
output WORKER_ACTOR_APP_NAME string = actorWorker.outputs.name
output WORKER_SPARK_APP_NAME string = sparkWorker.outputs.name
output SERVICE_BUS_NAMESPACE string = serviceBus.outputs.name
output STORAGE_ACCOUNT_NAME string = storage.outputs.name
output BATCH_ACCOUNT_ENDPOINT string = batch.outputs.endpoint
output KEY_VAULT_NAME string = keyVault.outputs.name
output HOST_STORAGE_ACCOUNT_NAME string = hostStorage.outputs.name
// Client ids of the identities (infra/k8s: the worker pods use the worker identity, the KEDA operator
// the worker platform identity).
output API_IDENTITY_CLIENT_ID string = apiIdentity.outputs.clientId
output WORKER_IDENTITY_CLIENT_ID string = workerIdentity.outputs.clientId
output WORKER_PLATFORM_IDENTITY_CLIENT_ID string = workerPlatformIdentity.outputs.clientId
