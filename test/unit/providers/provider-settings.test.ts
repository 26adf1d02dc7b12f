import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../../src/lib/errors.js';
import { parseAzureBatchSettings } from '../../../src/lib/providers/azure-batch/settings.js';
import { parseAzureMlSettings } from '../../../src/lib/providers/azure-ml/settings.js';
import { parseSageMakerSettings } from '../../../src/lib/providers/sagemaker/settings.js';
import { parseVertexSettings } from '../../../src/lib/providers/vertex/settings.js';

function problems(parse: () => unknown): string {
  try {
    parse();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigurationError);
    return (e as Error).message;
  }
  throw new Error('expected a ConfigurationError');
}

// Every provider reads its settings through the shared SettingsReader: blank counts as unset (the
// catalogue default applies), values are trimmed, and one error names every bad setting.
describe('provider settings through the settings reader', () => {
  it('Azure ML: blank takes the default, and field problems are named together', () => {
    const base = { AZUREML_SUBSCRIPTION_ID: ' s ', AZUREML_RESOURCE_GROUP: 'rg', AZUREML_WORKSPACE: 'ws1' };
    expect(parseAzureMlSettings({ ...base, AZUREML_READ_BURST: '  ' })).toMatchObject({
      subscriptionId: 's',
      readBurst: 250,
    });
    const message = problems(() =>
      parseAzureMlSettings({
        ...base,
        AZUREML_WORKSPACE: '-x',
        AZUREML_REQUEST_TIMEOUT_MS: '0',
        AZUREML_API_VERSION: 'v1',
      }),
    );
    expect(message).toMatch(/^Azure ML provider: /);
    expect(message).toContain('AZUREML_WORKSPACE is not a valid workspace name');
    expect(message).toContain("AZUREML_REQUEST_TIMEOUT_MS must be a whole number ≥ 1, got '0'");
    expect(message).toContain('AZUREML_API_VERSION looks like 2024-04-01');
  });

  it('SageMaker: a rate of 0 is refused, a fractional rate is kept, credentials go in pairs', () => {
    expect(
      parseSageMakerSettings({ SAGEMAKER_REGION: 'eu-west-1', SAGEMAKER_API_RATE_PER_SEC: '0.5' }).apiRatePerSec,
    ).toBe(0.5);
    const message = problems(() =>
      parseSageMakerSettings({ SAGEMAKER_LIST_RATE_PER_SEC: '0', SAGEMAKER_SECRET_ACCESS_KEY: 'x' }),
    );
    expect(message).toMatch(/^Invalid SageMaker settings: /);
    expect(message).toContain('SAGEMAKER_REGION is required');
    expect(message).toContain('SAGEMAKER_LIST_RATE_PER_SEC must be greater than 0');
    expect(message).toContain('set both SAGEMAKER_ACCESS_KEY_ID and SAGEMAKER_SECRET_ACCESS_KEY');
  });

  it('Vertex: a malformed key is named beside the other problems without being echoed', () => {
    const message = problems(() =>
      parseVertexSettings({
        VERTEX_PROJECT: 'my-project-1',
        VERTEX_LOCATION: 'europe-west4',
        VERTEX_CREDENTIALS_JSON: '{not json SECRET-9',
        VERTEX_TRANSPORT: 'soap',
      }),
    );
    expect(message).toContain('VERTEX_CREDENTIALS_JSON is not valid JSON');
    expect(message).toContain("VERTEX_TRANSPORT must be 'grpc' or 'rest', got 'soap'");
    expect(message).not.toContain('SECRET-9');
  });

  it('Azure Batch: the list setting is split and trimmed, and cross-field rules join the field problems', () => {
    const base = { AZURE_BATCH_ACCOUNT_URL: 'https://acct.westeurope.batch.azure.com/' };
    const s = parseAzureBatchSettings({
      ...base,
      AZURE_BATCH_ALLOWED_VM_SIZES: ' Standard_D4s_v3 ,, standard_e8s_v5 ',
    });
    expect(s.accountUrl).toBe('https://acct.westeurope.batch.azure.com');
    expect(s.allowedVmSizes).toEqual(expect.arrayContaining(['standard_d4s_v3', 'standard_e8s_v5']));
    const message = problems(() =>
      parseAzureBatchSettings({ ...base, AZURE_BATCH_ACCOUNT_KEY: 'k', AZURE_BATCH_MAX_NODES: 'many' }),
    );
    expect(message).toContain('AZURE_BATCH_ACCOUNT_NAME is required with AZURE_BATCH_ACCOUNT_KEY');
    expect(message).toContain("AZURE_BATCH_MAX_NODES must be a whole number from 1 to 10000, got 'many'");
  });
});
