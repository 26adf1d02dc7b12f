import type { PriceTable } from '../core/costs.js';

/**
 * The price table used when PRICE_TABLE is not set. ESTIMATES, not a quote: on-demand list prices
 * per instance-hour in USD for Linux, read by hand from the providers' public pricing pages
 * (aws.amazon.com/sagemaker/pricing for us-east-1 training, cloud.google.com/vertex-ai/pricing for
 * us-central1 custom training, azure.microsoft.com/pricing/details/virtual-machines/linux for East
 * US pay-as-you-go) in December 2026; discounts, spot, reservations, storage, network and
 * accelerator surcharges are not included. Set PRICE_TABLE (inline JSON or a path to a file of
 * this shape) to use your own prices or currency.
 *
 * Billing increments are assumptions per provider, stated in each `note`.
 */
export const DEFAULT_PRICE_TABLE: PriceTable = {
  currency: 'USD',
  source:
    'Estimates: on-demand Linux list prices per instance-hour from the public pricing pages of AWS SageMaker (us-east-1, training), Google Vertex AI (us-central1, custom training) and Azure Virtual Machines (East US, pay-as-you-go; Azure ML and Azure Batch add no charge of their own), read 2026-12-04. Worker and local prices are notional. Not a quote; set PRICE_TABLE for your own rates.',
  asOf: '2026-12-04',
  providers: {
    sagemaker: {
      billing: { incrementSec: 1, minimumSec: 0 },
      defaultInstanceType: 'ml.m5.large',
      hourly: {
        'ml.m5.large': 0.115,
        'ml.m5.xlarge': 0.23,
        'ml.m5.2xlarge': 0.461,
        'ml.m5.4xlarge': 0.922,
        'ml.c5.xlarge': 0.204,
        'ml.c5.2xlarge': 0.408,
        'ml.g4dn.xlarge': 0.736,
        'ml.g5.xlarge': 1.408,
        'ml.p3.2xlarge': 3.825,
      },
      note: 'Billed per second of instance time (DescribeTrainingJob BillableTimeInSeconds × InstanceCount when reported). AutoML jobs are priced as one default instance: Autopilot runs many candidates, so their estimate is a floor.',
    },
    vertex: {
      billing: { incrementSec: 30, minimumSec: 60 },
      defaultInstanceType: 'n1-standard-4',
      hourly: {
        'n1-standard-4': 0.2185,
        'n1-standard-8': 0.437,
        'n1-standard-16': 0.874,
        'n1-highmem-8': 0.5442,
        'e2-standard-4': 0.1541,
        'e2-standard-8': 0.3082,
        'n2-standard-4': 0.2234,
        'n2-standard-8': 0.4468,
        'a2-highgpu-1g': 4.2256,
      },
      note: 'Assumed billed in 30-second increments with a one-minute minimum per replica. Accelerators are billed on top and are not priced here; training pipelines (AutoML) are priced as one default machine.',
    },
    'azure-ml': {
      billing: { incrementSec: 60, minimumSec: 60 },
      defaultInstanceType: 'Standard_DS3_v2',
      hourly: {
        Standard_DS3_v2: 0.293,
        Standard_DS4_v2: 0.585,
        Standard_D2s_v3: 0.096,
        Standard_D4s_v3: 0.192,
        Standard_D8s_v3: 0.384,
        Standard_E4s_v3: 0.252,
        Standard_F4s_v2: 0.169,
        Standard_NC4as_T4_v3: 0.526,
        Standard_NC6s_v3: 3.06,
      },
      computeSizes: {},
      note: 'VM time of the compute cluster, assumed billed per started minute. A command job naming a compute but no instanceType is priced by computeSizes[compute], else the default size.',
    },
    'azure-batch': {
      billing: { incrementSec: 60, minimumSec: 60 },
      defaultInstanceType: 'Standard_D2s_v3',
      hourly: {
        Standard_D2s_v3: 0.096,
        Standard_D4s_v3: 0.192,
        Standard_D8s_v3: 0.384,
        Standard_DS3_v2: 0.293,
        Standard_E4s_v3: 0.252,
        Standard_F4s_v2: 0.169,
        Standard_NC6s_v3: 3.06,
      },
      note: "A task is charged one node's VM time for its own runtime, assumed billed per started minute; pool nodes' idle time before and after is not attributed to jobs.",
    },
    worker: {
      billing: { incrementSec: 1, minimumSec: 0 },
      defaultInstanceType: 'spark',
      hourly: { actor: 0.054, spark: 0.216 },
      note: 'Notional: a Container Apps consumption replica per job (actor 0.5 vCPU/1 GiB, spark 2 vCPU/4 GiB at about 0.000024 per vCPU-second and 0.000003 per GiB-second), per second.',
    },
    local: {
      billing: { incrementSec: 1, minimumSec: 0 },
      defaultInstanceType: 'local',
      hourly: { local: 0 },
      note: 'Notional: jobs run on this machine. Set a price for the host if you want local runs counted.',
    },
  },
};
