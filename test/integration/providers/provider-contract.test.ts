import { providerContract } from '../../contract/provider.contract.js';
import {
  azureBatchHarness,
  azureMlHarness,
  sageMakerHarness,
  vertexHarness,
} from '../../support/provider-harnesses.js';

// The rules every provider keeps (test/contract/provider.contract.ts), against each wire fake.
providerContract('Azure Batch', azureBatchHarness);
providerContract('Azure ML', azureMlHarness);
providerContract('SageMaker', sageMakerHarness);
providerContract('Vertex AI (REST)', () => vertexHarness('rest'));
providerContract('Vertex AI (gRPC)', () => vertexHarness('grpc'));
