import { describe, expect, it } from 'vitest';
import {
  ConfigurationError,
  ProviderRejectedError,
  ProviderThrottledError,
  ProviderUnavailableError,
  ValidationError,
} from '../../../src/lib/errors.js';
import {
  buildBatchPredictionJob,
  buildCustomJob,
  buildTrainingPipeline,
  parseVertexJobSpec,
  toProtoValue,
  type CustomJobSpec,
} from '../../../src/lib/providers/vertex/spec.js';
import {
  fromEssedumBatchPrediction,
  fromEssedumTrainingPipeline,
} from '../../../src/lib/app/essedum/translate/vertex.js';
import { activeResourcesFilter, jobLabelValue, labelEqualsFilter } from '../../../src/lib/providers/vertex/names.js';
import { inspectVertexError, toOrchestratorError } from '../../../src/lib/providers/vertex/errors.js';
import { descriptor } from '../../../src/lib/providers/vertex/index.js';
import { parseVertexSettings, VERTEX_SETTINGS } from '../../../src/lib/providers/vertex/settings.js';
import {
  JOB_STATES,
  PIPELINE_STATES,
  mapJobState,
  mapNativeState,
  mapPipelineState,
  resourceError,
  resultSummary,
  terminalStates,
} from '../../../src/lib/providers/vertex/status.js';

const catchError = (fn: () => unknown): unknown => {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
};

describe('Vertex status mapping', () => {
  it.each([
    ['JOB_STATE_UNSPECIFIED', 'dispatched', false],
    ['JOB_STATE_QUEUED', 'dispatched', false],
    ['JOB_STATE_PENDING', 'dispatched', false],
    ['JOB_STATE_RUNNING', 'running', false],
    ['JOB_STATE_PAUSED', 'running', false],
    ['JOB_STATE_UPDATING', 'running', false],
    ['JOB_STATE_SUCCEEDED', 'succeeded', true],
    ['JOB_STATE_PARTIALLY_SUCCEEDED', 'succeeded', true],
    ['JOB_STATE_FAILED', 'failed', true],
    ['JOB_STATE_EXPIRED', 'failed', true],
    ['JOB_STATE_CANCELLING', 'cancelling', false],
    ['JOB_STATE_CANCELLED', 'cancelled', true],
  ] as const)('maps %s to %s (terminal: %s)', (state, status, terminal) => {
    expect(mapJobState(state)).toMatchObject({ status, terminal });
  });

  it.each([
    ['PIPELINE_STATE_UNSPECIFIED', 'dispatched', false],
    ['PIPELINE_STATE_QUEUED', 'dispatched', false],
    ['PIPELINE_STATE_PENDING', 'dispatched', false],
    ['PIPELINE_STATE_RUNNING', 'running', false],
    ['PIPELINE_STATE_PAUSED', 'running', false],
    ['PIPELINE_STATE_SUCCEEDED', 'succeeded', true],
    ['PIPELINE_STATE_FAILED', 'failed', true],
    ['PIPELINE_STATE_CANCELLING', 'cancelling', false],
    ['PIPELINE_STATE_CANCELLED', 'cancelled', true],
  ] as const)('maps %s to %s (terminal: %s)', (state, status, terminal) => {
    expect(mapPipelineState(state)).toMatchObject({ status, terminal });
  });

  it('covers every documented state, and no cancelled or expired state counts as success', () => {
    expect(JOB_STATES).toHaveLength(12);
    expect(PIPELINE_STATES).toHaveLength(9);
    for (const s of [...JOB_STATES.filter((x) => /CANCEL|EXPIRED/.test(x))])
      expect(mapJobState(s).status).not.toBe('succeeded');
    for (const s of [...PIPELINE_STATES.filter((x) => /CANCEL/.test(x))])
      expect(mapPipelineState(s).status).not.toBe('succeeded');
  });

  it('lists the terminal states per kind for the list filter', () => {
    expect(terminalStates('custom')).toEqual([
      'JOB_STATE_SUCCEEDED',
      'JOB_STATE_FAILED',
      'JOB_STATE_CANCELLED',
      'JOB_STATE_EXPIRED',
      'JOB_STATE_PARTIALLY_SUCCEEDED',
    ]);
    expect(terminalStates('training_pipeline')).toEqual([
      'PIPELINE_STATE_SUCCEEDED',
      'PIPELINE_STATE_FAILED',
      'PIPELINE_STATE_CANCELLED',
    ]);
  });

  it('keeps an unknown future state as running with a note instead of crashing the poller', () => {
    expect(mapNativeState('custom', 'JOB_STATE_HIBERNATING')).toMatchObject({
      status: 'running',
      terminal: false,
      note: expect.stringContaining('JOB_STATE_HIBERNATING'),
    });
    expect(mapNativeState('batch_prediction', 4)).toMatchObject({ status: 'succeeded' });
    expect(mapNativeState('training_pipeline', 'JOB_STATE_SUCCEEDED').note).toMatch(/unknown/);
  });

  it('reads the resource error field as a JobError with the canonical code name', () => {
    expect(resourceError({ error: { code: 8, message: 'quota for NVIDIA_TESLA_T4 exceeded' } })).toEqual({
      code: 'RESOURCE_EXHAUSTED',
      message: 'quota for NVIDIA_TESLA_T4 exceeded',
      category: 'provider',
    });
    expect(resourceError({ error: { code: 0, message: '' } })).toBeUndefined();
    expect(resourceError({})).toBeUndefined();
  });
});

describe('Vertex result summary', () => {
  it('gives the output directory of a custom job', () => {
    expect(
      resultSummary('custom', { name: 'n', jobSpec: { baseOutputDirectory: { outputUriPrefix: 'gs://b/o' } } }),
    ).toEqual({ resourceName: 'n', kind: 'custom', outputDirectory: 'gs://b/o' });
  });

  it('gives the uploaded model of a training pipeline and a custom-training output directory', () => {
    const r = resultSummary('training_pipeline', {
      name: 'tp',
      modelToUpload: { name: 'projects/p/locations/l/models/9', versionId: '2' },
      trainingTaskInputs: {
        structValue: {
          fields: {
            baseOutputDirectory: { structValue: { fields: { outputUriPrefix: { stringValue: 'gs://b/tp' } } } },
          },
        },
      },
    });
    expect(r).toEqual({
      resourceName: 'tp',
      kind: 'training_pipeline',
      model: 'projects/p/locations/l/models/9',
      modelVersionId: '2',
      outputDirectory: 'gs://b/tp',
    });
  });

  it('gives the output locations and statistics of a batch prediction', () => {
    const r = resultSummary('batch_prediction', {
      name: 'bp',
      model: 'm',
      outputInfo: { gcsOutputDirectory: 'gs://b/p', bigqueryOutputTable: '' },
      completionStats: { successfulCount: '5', failedCount: '1', incompleteCount: '0' },
    });
    expect(r).toEqual({
      resourceName: 'bp',
      kind: 'batch_prediction',
      model: 'm',
      gcsOutputDirectory: 'gs://b/p',
      completionStats: { successfulCount: 5, failedCount: 1, incompleteCount: 0 },
    });
  });
});

describe('Vertex labels and filters', () => {
  it('uses our job ids as label values unchanged', () => {
    expect(jobLabelValue('j-01jd3m2x7k9q8w4e5r6t7y8u9i')).toBe('j-01jd3m2x7k9q8w4e5r6t7y8u9i');
  });

  it('folds other ids into the label alphabet without collisions', () => {
    const a = jobLabelValue('Job.A/1');
    const b = jobLabelValue('job_a_1');
    const long = jobLabelValue('x'.repeat(200));
    expect(a).toMatch(/^[a-z0-9_-]{1,63}$/);
    expect(a).not.toBe(b);
    expect(long.length).toBeLessThanOrEqual(63);
    expect(jobLabelValue('Job.A/1')).toBe(a);
  });

  it('builds the documented filter forms, quoting values', () => {
    expect(labelEqualsFilter('cjo_job_id', 'j-1')).toBe('labels.cjo_job_id="j-1"');
    expect(activeResourcesFilter('k', ['A', 'B'])).toBe('labels.k:* AND state!="A" AND state!="B"');
  });
});

describe('Vertex error translation', () => {
  const restError = (status: number, name: string, message = 'boom', headers?: Record<string, string>) =>
    Object.assign(new Error(JSON.stringify({ error: { code: status, message, status: name } })), {
      code: status,
      status,
      response: { status, headers: new Headers(headers ?? {}) },
    });

  it('treats REST 429 RESOURCE_EXHAUSTED as throttling and honours Retry-After', () => {
    const e = toOrchestratorError(restError(429, 'RESOURCE_EXHAUSTED', 'slow down', { 'retry-after': '12' }), 30_000);
    expect(e).toBeInstanceOf(ProviderThrottledError);
    expect((e as ProviderThrottledError).retryAfterMs).toBe(12_000);
  });

  it('treats gRPC code 8 as throttling with the default back-off, and RetryInfo when present', () => {
    expect(
      (
        toOrchestratorError(
          Object.assign(new Error('8 RESOURCE_EXHAUSTED'), { code: 8 }),
          30_000,
        ) as ProviderThrottledError
      ).retryAfterMs,
    ).toBe(30_000);
    const withInfo = Object.assign(new Error('x'), {
      code: 8,
      statusDetails: [{ retryDelay: { seconds: 3, nanos: 500_000_000 } }],
    });
    expect((toOrchestratorError(withInfo, 30_000) as ProviderThrottledError).retryAfterMs).toBe(3500);
  });

  it.each([
    ['REST 503', restError(503, 'UNAVAILABLE')],
    ['gRPC 14', Object.assign(new Error('14 UNAVAILABLE'), { code: 14 })],
    ['gRPC 4 (gax gave up retrying)', Object.assign(new Error('Total timeout'), { code: 4 })],
    ['REST 500', restError(500, 'INTERNAL')],
    ['connection refused', Object.assign(new Error('request failed'), { code: 'ECONNREFUSED' })],
    ['REST 403 (credentials: a deployment fix)', restError(403, 'PERMISSION_DENIED')],
  ])('treats %s as unavailable, never a job failure', (_, error) => {
    expect(toOrchestratorError(error, 1)).toBeInstanceOf(ProviderUnavailableError);
  });

  it('reads the canonical name from the REST body, not the HTTP status (400 may be FAILED_PRECONDITION)', () => {
    expect(inspectVertexError(restError(400, 'FAILED_PRECONDITION', 'already done'))).toMatchObject({
      status: 'FAILED_PRECONDITION',
      message: 'already done',
    });
    const e = toOrchestratorError(restError(400, 'INVALID_ARGUMENT', 'bad machine type'), 1);
    expect(e).toBeInstanceOf(ProviderRejectedError);
    expect((e as ProviderRejectedError).providerCode).toBe('INVALID_ARGUMENT');
  });

  it("does not retry or fail a job on an error that is not recognisably Vertex's", () => {
    expect(inspectVertexError(new TypeError('x is not a function')).status).toBe('UNCLASSIFIED');
    expect(toOrchestratorError(new TypeError('x is not a function'), 1)).toBeInstanceOf(ProviderUnavailableError);
  });

  it('maps a gRPC NOT_FOUND to its name', () => {
    expect(inspectVertexError(Object.assign(new Error('5 NOT_FOUND: x'), { code: 5 })).status).toBe('NOT_FOUND');
  });
});

describe('Vertex job kinds', () => {
  const pool = { machineSpec: { machineType: 'n1-standard-4' }, containerSpec: { imageUri: 'img' } };

  it('rejects an unknown or missing kind on spec.kind', () => {
    for (const kind of ['automl', undefined]) {
      const e = catchError(() => parseVertexJobSpec({ kind, spec: {} }));
      expect(e).toBeInstanceOf(ValidationError);
      expect((e as ValidationError).issues.map((i) => i.field)).toEqual(['spec.kind']);
    }
  });

  it('names the bad field of a custom job spec', () => {
    const e = catchError(() =>
      parseVertexJobSpec({
        kind: 'custom',
        spec: { workerPoolSpecs: [{ machineSpec: {}, containerSpec: { imageUri: 'i' } }] },
      }),
    ) as ValidationError;
    expect(e.issues.map((i) => i.field)).toContain('spec.spec.workerPoolSpecs.0.machineSpec.machineType');
  });

  it('rejects typos, an accelerator count without type, and a chief pool with more than one replica', () => {
    const typo = catchError(() =>
      parseVertexJobSpec({ kind: 'custom', spec: { workerPoolSpecs: [pool], baseOutputDir: 'gs://b/x' } }),
    ) as ValidationError;
    expect(typo.issues.map((i) => i.field)).toEqual(['spec.spec.baseOutputDir']);
    const acc = catchError(() =>
      parseVertexJobSpec({
        kind: 'custom',
        spec: { workerPoolSpecs: [{ ...pool, machineSpec: { machineType: 'a2', acceleratorCount: 1 } }] },
      }),
    ) as ValidationError;
    expect(acc.issues.map((i) => i.field)).toContain('spec.spec.workerPoolSpecs.0.machineSpec.acceleratorCount');
    const chief = catchError(() =>
      parseVertexJobSpec({ kind: 'custom', spec: { workerPoolSpecs: [{ ...pool, replicaCount: 2 }] } }),
    ) as ValidationError;
    expect(chief.issues.map((i) => i.field)).toContain('spec.spec.workerPoolSpecs.0.replicaCount');
  });

  it('builds a CustomJob: env map to list, runtime limit as timeout, our label merged with the spec labels', () => {
    const parsed = parseVertexJobSpec({
      kind: 'custom',
      spec: {
        workerPoolSpecs: [{ ...pool, containerSpec: { imageUri: 'img', env: { A: '1' } } }],
        labels: { team: 'ml' },
      },
    });
    const job = buildCustomJob(parsed.spec as CustomJobSpec, {
      jobId: 'j-1',
      labelKey: 'cjo_job_id',
      labelValue: 'j-1',
      maxRuntimeSec: 600,
    });
    expect(job.displayName).toBe('j-1');
    expect(job.labels).toEqual({ team: 'ml', cjo_job_id: 'j-1' });
    expect(job.jobSpec?.workerPoolSpecs?.[0]?.containerSpec?.env).toEqual([{ name: 'A', value: '1' }]);
    expect(job.jobSpec?.scheduling?.timeout).toEqual({ seconds: 600 });
  });

  it('translates an Essedum TrainingPipeline body: snake_case renamed, output-only fields dropped, task inputs untouched', () => {
    const out = fromEssedumTrainingPipeline({
      name: 'projects/p/locations/l/trainingPipelines/1',
      state: 'PIPELINE_STATE_SUCCEEDED',
      display_name: 'p',
      training_task_definition: 'gs://google-cloud-aiplatform/schema/trainingjob/definition/automl_tabular_1.0.0.yaml',
      training_task_inputs: { target_column: 'y', transformations: [{ auto: { column_name: 'a' } }] },
      input_data_config: { dataset_id: '1', fraction_split: { training_fraction: 0.8 } },
    });
    expect(out).toEqual({
      kind: 'training_pipeline',
      spec: {
        displayName: 'p',
        trainingTaskDefinition: 'gs://google-cloud-aiplatform/schema/trainingjob/definition/automl_tabular_1.0.0.yaml',
        trainingTaskInputs: { target_column: 'y', transformations: [{ auto: { column_name: 'a' } }] },
        inputDataConfig: { datasetId: '1', fractionSplit: { trainingFraction: 0.8 } },
      },
    });
  });

  it('reports the missing fields of an Essedum body under spec', () => {
    const e = catchError(() => fromEssedumTrainingPipeline({ displayName: 'x' })) as ValidationError;
    expect(e.issues.map((i) => i.field).sort()).toEqual(['spec.trainingTaskDefinition', 'spec.trainingTaskInputs']);
    expect(catchError(() => fromEssedumTrainingPipeline('nope'))).toBeInstanceOf(ValidationError);
  });

  it('requires exactly one model source and valid locations in a batch prediction body', () => {
    const base = {
      displayName: 'b',
      inputConfig: { instancesFormat: 'jsonl', gcsSource: { uris: ['gs://bucket/in.jsonl'] } },
      outputConfig: { predictionsFormat: 'jsonl', gcsDestination: { outputUriPrefix: 'gs://bucket/out' } },
    };
    expect((catchError(() => fromEssedumBatchPrediction(base)) as ValidationError).issues.map((i) => i.field)).toEqual([
      'spec.model',
    ]);
    const bad = catchError(() =>
      fromEssedumBatchPrediction({
        ...base,
        model: 'm',
        inputConfig: { instancesFormat: 'jsonl', gcsSource: { uris: ['s3://x/y'] } },
      }),
    ) as ValidationError;
    expect(bad.issues.map((i) => i.field)).toEqual(['spec.inputConfig.gcsSource.uris.0']);
    expect(fromEssedumBatchPrediction({ ...base, model: 'm' }).spec.model).toBe('m');
  });

  it('converts plain JSON to protobuf Values for the Struct fields', () => {
    expect(toProtoValue({ a: [1, 'x', true, null] })).toEqual({
      structValue: {
        fields: {
          a: {
            listValue: {
              values: [{ numberValue: 1 }, { stringValue: 'x' }, { boolValue: true }, { nullValue: 'NULL_VALUE' }],
            },
          },
        },
      },
    });
    const tp = buildTrainingPipeline(
      fromEssedumTrainingPipeline({ displayName: 'p', trainingTaskDefinition: 'd', trainingTaskInputs: { k: 1 } }).spec,
      { jobId: 'j', labelKey: 'l', labelValue: 'j' },
    );
    expect(tp.trainingTaskInputs).toEqual({ structValue: { fields: { k: { numberValue: 1 } } } });
    expect(tp.labels).toEqual({ l: 'j' });
    const bp = buildBatchPredictionJob(
      fromEssedumBatchPrediction({
        displayName: 'b',
        model: 'm',
        modelParameters: { t: 0.5 },
        inputConfig: { instancesFormat: 'jsonl', gcsSource: { uris: ['gs://bucket/in'] } },
        outputConfig: { predictionsFormat: 'jsonl', gcsDestination: { outputUriPrefix: 'gs://bucket/out' } },
      }).spec,
      { jobId: 'j', labelKey: 'l', labelValue: 'j' },
    );
    expect(bp.modelParameters).toEqual({ structValue: { fields: { t: { numberValue: 0.5 } } } });
  });
});

describe('Vertex settings', () => {
  const base = { VERTEX_PROJECT: 'my-project-1', VERTEX_LOCATION: 'europe-west4' };

  it('is configured when project and location are set', () => {
    expect(descriptor.isConfigured(base)).toBe(true);
    expect(descriptor.isConfigured({ VERTEX_PROJECT: 'my-project-1' })).toBe(false);
    expect(descriptor.isConfigured({ ...base, VERTEX_LOCATION: '  ' })).toBe(false);
  });

  it('defaults to the regional endpoint, gRPC, ADC and the cjo_job_id label', () => {
    const s = parseVertexSettings(base);
    expect(s).toMatchObject({
      apiEndpoint: 'europe-west4-aiplatform.googleapis.com',
      port: 443,
      protocol: 'https',
      transport: 'grpc',
      labelKey: 'cjo_job_id',
      pageSize: 100,
    });
    expect(s.credentials).toBeUndefined();
  });

  it('declares every setting it reads, with the secret marked', () => {
    const names = VERTEX_SETTINGS.map((x) => x.name);
    expect(names).toEqual(
      expect.arrayContaining([
        'VERTEX_PROJECT',
        'VERTEX_LOCATION',
        'VERTEX_CREDENTIALS_JSON',
        'VERTEX_API_ENDPOINT',
        'VERTEX_API_PORT',
        'VERTEX_API_PROTOCOL',
        'VERTEX_LABEL_KEY',
      ]),
    );
    expect(VERTEX_SETTINGS.find((x) => x.name === 'VERTEX_CREDENTIALS_JSON')).toMatchObject({ secret: true });
  });

  it('parses a service-account key and refuses a malformed one without echoing it', () => {
    const key = JSON.stringify({
      type: 'service_account',
      client_email: 'sa@p.iam.gserviceaccount.com',
      private_key: 'PRIVATE',
    });
    expect(parseVertexSettings({ ...base, VERTEX_CREDENTIALS_JSON: key }).credentials?.client_email).toBe(
      'sa@p.iam.gserviceaccount.com',
    );
    const e = catchError(() =>
      parseVertexSettings({ ...base, VERTEX_CREDENTIALS_JSON: '{"private_key":"SECRET-123"}' }),
    );
    expect(e).toBeInstanceOf(ConfigurationError);
    expect((e as Error).message).not.toContain('SECRET-123');
  });

  it('refuses plain-text gRPC, a hyphenated label key and a page size above 100', () => {
    expect(() => parseVertexSettings({ ...base, VERTEX_API_PROTOCOL: 'http' })).toThrow(/VERTEX_API_PROTOCOL/);
    expect(() => parseVertexSettings({ ...base, VERTEX_LABEL_KEY: 'cjo-job-id' })).toThrow(/VERTEX_LABEL_KEY/);
    expect(() => parseVertexSettings({ ...base, VERTEX_PAGE_SIZE: '500' })).toThrow(/VERTEX_PAGE_SIZE/);
  });
});
