// Access of the managed identity to an existing Azure Machine Learning workspace (the azure-ml
// provider creates, lists, cancels and reads jobs through Resource Manager: @azure/arm-machinelearning
// and REST calls with a newer api-version).

@description('Existing workspace in this resource group.')
param workspaceName string

param principalId string

resource workspace 'Microsoft.MachineLearningServices/workspaces@2024-04-01' existing = {
  name: workspaceName
}

// AzureML Data Scientist (f6c7c914-8db3-469d-8ca1-694a8f32e121): create/cancel/read jobs, experiments
// and their outputs in the workspace, without rights to change the workspace or its computes.
resource dataScientist 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(workspace.id, principalId, 'f6c7c914-8db3-469d-8ca1-694a8f32e121')
  scope: workspace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'f6c7c914-8db3-469d-8ca1-694a8f32e121')
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
