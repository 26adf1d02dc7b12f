// Log Analytics (logs of the Function App and the Container Apps environment) and Application
// Insights with local (instrumentation-key) auth disabled: telemetry is accepted only with an Entra ID
// token, which the Function App obtains with its identity (APPLICATIONINSIGHTS_AUTHENTICATION_STRING).
// That needs Monitoring Metrics Publisher, granted in modules/access.bicep.

param logAnalyticsName string
param appInsightsName string
param location string
param tags object = {}

@description('Days of log retention; 30 is included in the per-GB price.')
param retentionInDays int = 30

@description('Daily ingestion cap in GB (-1 = none). A cap keeps a runaway log loop from becoming a bill.')
param dailyQuotaGb int = 1

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionInDays
    workspaceCapping: {
      dailyQuotaGb: dailyQuotaGb
    }
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: appInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
    DisableLocalAuth: true
  }
}

output logAnalyticsName string = logAnalytics.name
output logAnalyticsId string = logAnalytics.id
output appInsightsName string = appInsights.name
output appInsightsConnectionString string = appInsights.properties.ConnectionString
