import { describe, expect, it } from 'vitest';
import type { JobRecord } from '../../../src/lib/core/job.js';
import { ValidationError } from '../../../src/lib/errors.js';
import { ASSET_OPS, type AssetOp, type AssetRefs } from '../../../src/lib/app/essedum/assets-types.js';
import { fromEssedumAsset } from '../../../src/lib/app/essedum/translate/vertex.js';
import { assetResourceId, deployedModelIdFor } from '../../../src/lib/providers/vertex/asset-spec.js';
import { splitTraffic } from '../../../src/lib/providers/vertex/assets.js';
import { descriptor } from '../../../src/lib/providers/vertex/index.js';
import { fromProtoValue, operationOutcome } from '../../../src/lib/providers/vertex/status.js';
import { toProtoValue } from '../../../src/lib/providers/vertex/spec.js';
import { providerJob } from '../../support/jobs.js';

const P = 'projects/p-123456/locations/us-central1';

/** A succeeded asset job as mlops-core passes it in `refs`. */
function made(kind: 'dataset' | 'model' | 'endpoint', id: string, provider = 'vertex'): JobRecord {
  return {
    ...providerJob(provider, `j-${kind}`, `${kind}-create`, {}),
    status: 'succeeded',
    result: { summary: { asset: { kind, id, name: kind } } },
  };
}
const REFS: AssetRefs = {
  dataset: made('dataset', `${P}/datasets/11`),
  model: made('model', `${P}/models/m-1`),
  endpoint: made('endpoint', `${P}/endpoints/e-1`),
};

/** A body Essedum's UI could send for each op (snake_case, as the native REST API accepts). */
const GOOD: Record<AssetOp, Record<string, unknown>> = {
  'dataset-create': {
    display_name: 'churn',
    metadata_schema_uri: 'gs://google-cloud-aiplatform/schema/dataset/metadata/tabular_1.0.0.yaml',
    metadata: { input_config: { gcs_source: { uri: ['gs://bucket-b/churn.csv'] } } },
    import_configs: [
      { gcs_source: { uris: ['gs://bucket-b/churn.csv'] }, import_schema_uri: 'gs://bucket-s/tabular.yaml' },
    ],
    project: 'essedum-extra-field',
  },
  'dataset-export': { export_config: { gcs_destination: { output_uri_prefix: 'gs://bucket-b/out' } } },
  'dataset-delete': {},
  'model-register': {
    model: { display_name: 'm', artifact_uri: 'gs://bucket-b/model', container_spec: { image_uri: 'img:1' } },
  },
  'model-export': {
    output_config: {
      export_format_id: 'custom-trained',
      artifact_destination: { output_uri_prefix: 'gs://bucket-b/x' },
    },
  },
  'model-delete': {},
  'endpoint-create': { display_name: 'ep', labels: { team: 'ml' } },
  'endpoint-deploy': {
    deployed_model: { dedicated_resources: { machine_spec: { machine_type: 'n1-standard-4' }, min_replica_count: 2 } },
    traffic_split: { '0': 50 },
  },
  'endpoint-undeploy': { deployed_model_id: '1234567890' },
  'endpoint-delete': {},
};

/** One bad body per op and the field the error must name. */
const BAD: Record<AssetOp, [Record<string, unknown>, AssetRefs, string]> = {
  'dataset-create': [{ display_name: 'x' }, {}, 'metadataSchemaUri'],
  'dataset-export': [
    { export_config: { gcs_destination: { output_uri_prefix: 'http://x' } } },
    REFS,
    'exportConfig.gcsDestination.outputUriPrefix',
  ],
  'dataset-delete': [{}, {}, 'dataset'],
  'model-register': [{ display_name: 'm' }, {}, 'containerSpec'],
  'model-export': [{ output_config: { export_format_id: 'tf' } }, REFS, 'outputConfig.artifactDestination'],
  'model-delete': [{}, { model: REFS.dataset! }, 'model'],
  'endpoint-create': [{ display_name: '' }, {}, 'displayName'],
  'endpoint-deploy': [{ model: `${P}/models/x` }, { endpoint: REFS.endpoint! }, 'dedicatedResources'],
  'endpoint-undeploy': [{ deployed_model_ids: ['01'] }, REFS, 'deployedModelIds.0'],
  'endpoint-delete': [{}, { endpoint: made('endpoint', `${P}/endpoints/e-1`, 'sagemaker') }, 'endpoint'],
};

describe('fromEssedumAsset (Vertex AI)', () => {
  it.each(ASSET_OPS)('%s: translates a good body into a spec the provider accepts', async (op) => {
    const { kind, spec } = fromEssedumAsset(op, GOOD[op], REFS);

    expect(kind).toBe(op);
    await expect(descriptor.validateSpec(kind, spec)).resolves.toBeUndefined();
  });

  it.each(ASSET_OPS)('%s: a bad body is a ValidationError naming the field', (op) => {
    const [body, refs, field] = BAD[op];

    const error = (() => {
      try {
        fromEssedumAsset(op, body, refs);
      } catch (e) {
        return e;
      }
    })();

    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues.map((i) => i.field)).toContain(field);
  });

  it('takes the resources from the referenced jobs, never from the body', () => {
    const { spec } = fromEssedumAsset(
      'endpoint-deploy',
      { ...GOOD['endpoint-deploy'], endpoint: `${P}/endpoints/not-ours` },
      REFS,
    );
    expect(spec).toMatchObject({
      endpoint: `${P}/endpoints/e-1`,
      model: `${P}/models/m-1`,
      trafficPercentage: 50,
      dedicatedResources: { machineSpec: { machineType: 'n1-standard-4' }, minReplicaCount: 2 },
    });
    expect(fromEssedumAsset('dataset-delete', { dataset: `${P}/datasets/99` }, REFS).spec).toEqual({
      dataset: `${P}/datasets/11`,
    });
  });

  it('keeps free-form maps as sent (labels and metadata keys are user data)', () => {
    const { spec } = fromEssedumAsset('dataset-create', GOOD['dataset-create'], {});
    expect(spec.metadata).toEqual({ input_config: { gcs_source: { uri: ['gs://bucket-b/churn.csv'] } } });
    expect(spec.importConfigs).toEqual([
      { gcsSource: { uris: ['gs://bucket-b/churn.csv'] }, importSchemaUri: 'gs://bucket-s/tabular.yaml' },
    ]);
  });

  it('refuses a body that is not an object', () => {
    expect(() => fromEssedumAsset('endpoint-create', [] as unknown as Record<string, unknown>, {})).toThrow(
      ValidationError,
    );
  });
});

describe('Vertex asset helpers', () => {
  it('derives model/endpoint ids and deployed model ids from the run key, stable and in the allowed alphabets', () => {
    expect(assetResourceId('j-01jd3m2x7k9q8w4e5r6t7y8u9i')).toBe('j-01jd3m2x7k9q8w4e5r6t7y8u9i');
    expect(assetResourceId('j-01jd3m2x7k9q8w4e5r6t7y8u9i-a2')).toBe('j-01jd3m2x7k9q8w4e5r6t7y8u9i-a2');
    const odd = assetResourceId('Job_With.Odd/Chars');
    expect(odd).toMatch(/^j[0-9a-f]{40}$/);
    expect(assetResourceId('Job_With.Odd/Chars')).toBe(odd);
    const id = deployedModelIdFor('j-1');
    expect(id).toMatch(/^[1-9][0-9]{9}$/);
    expect(deployedModelIdFor('j-1')).toBe(id);
    expect(deployedModelIdFor('j-1-a2')).not.toBe(id);
  });

  it('splits traffic so it adds up to 100, the new model ("0") taking its share', () => {
    expect(splitTraffic({}, 30)).toEqual({ '0': 100 });
    const split = splitTraffic({ trafficSplit: { '111': 70, '222': 30 } }, 40);
    expect(split['0']).toBe(40);
    expect(Object.values(split).reduce((a, b) => a + b, 0)).toBe(100);
    expect(split['111']).toBeGreaterThan(split['222']!);
  });

  it('maps a long-running operation: pending, done, or done with an error', () => {
    expect(operationOutcome({ done: false })).toBe('running');
    expect(operationOutcome({ done: true })).toBe('done');
    expect(operationOutcome({ done: true, error: { code: 9, message: 'model is deployed' } })).toEqual({
      code: 'FAILED_PRECONDITION',
      message: 'model is deployed',
      category: 'provider',
    });
  });

  it('round-trips JSON through protobuf Values, with or without the oneof name', () => {
    const json = { a: 1, b: 'x', c: [true, null, { d: 2.5 }] };
    expect(fromProtoValue(toProtoValue(json))).toEqual(json);
    expect(fromProtoValue({ kind: 'numberValue', numberValue: 3, stringValue: '' })).toBe(3);
  });
});
