/**
 * Essedum's Vertex AI bodies → our Vertex job kinds. The Essedum executor passes Vertex REST bodies
 * through; the provider owns their schemas, this module only checks the body's shape and maps it.
 */
import { parseOrThrow } from '../../../core/job.js';
import { ValidationError } from '../../../errors.js';
import {
  BatchPredictionSpecSchema,
  normalizeRestBody,
  TrainingPipelineSpecSchema,
  type BatchPredictionSpec,
  type TrainingPipelineSpec,
} from '../../../providers/vertex/spec.js';

function requireObject(body: unknown, field: string): void {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new ValidationError([{ field, message: 'must be a JSON object' }]);
  }
}

/**
 * Translates the TrainingPipeline REST body the Essedum executor passes through (AutoML or custom
 * training) into our job kind. Pure; throws {@link ValidationError} with field paths under `spec`.
 */
export function fromEssedumTrainingPipeline(body: unknown): { kind: 'training_pipeline'; spec: TrainingPipelineSpec } {
  requireObject(body, 'spec');
  return { kind: 'training_pipeline', spec: parseOrThrow(TrainingPipelineSpecSchema, normalizeRestBody(body), 'spec') };
}

/**
 * Translates the BatchPredictionJob REST body the Essedum executor passes through (inference) into
 * our job kind. Pure; throws {@link ValidationError} with field paths under `spec`.
 */
export function fromEssedumBatchPrediction(body: unknown): { kind: 'batch_prediction'; spec: BatchPredictionSpec } {
  requireObject(body, 'spec');
  return { kind: 'batch_prediction', spec: parseOrThrow(BatchPredictionSpecSchema, normalizeRestBody(body), 'spec') };
}
