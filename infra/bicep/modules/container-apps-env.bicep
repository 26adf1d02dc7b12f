// Container Apps environment (workload profiles, Consumption profile only) sending container logs to
// the Log Analytics workspace. Idle apps in the Consumption profile cost nothing.

param name string
param location string
param tags object = {}

@description('Name of the Log Analytics workspace in this resource group.')
param logAnalyticsName string

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: logAnalyticsName
}

resource environment 'Microsoft.App/managedEnvironments@2025-01-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    appLogsConfiguration: {
      destination: 'log-analytics'
      logAnalyticsConfiguration: {
        customerId: logAnalytics.properties.customerId
        // The environment's log agent only supports the workspace key; it is read here at deployment
        // time and never leaves ARM.
        sharedKey: logAnalytics.listKeys().primarySharedKey
      }
    }
    workloadProfiles: [
      {
        name: 'Consumption'
        workloadProfileType: 'Consumption'
      }
    ]
  }
}

output id string = environment.id
output name string = environment.name
