import { SERVICEBUS_SETTINGS } from './adapters/servicebus-settings.js';
import { SETTINGS, type SettingInfo } from './config.js';
import { COMMAND_SANDBOX_SETTINGS } from './command-sandbox-settings.js';
import { ESSEDUM_SETTINGS } from './essedum-settings.js';
import { AZURE_BATCH_SETTINGS } from './providers/azure-batch/settings.js';
import { AZURE_ML_SETTINGS } from './providers/azure-ml/settings.js';
import { SAGEMAKER_SETTINGS } from './providers/sagemaker/settings.js';
import { VERTEX_SETTINGS } from './providers/vertex/settings.js';
import { TELEMETRY_SETTINGS } from './telemetry/settings.js';

/**
 * Every setting any part of the product reads: the core list plus each adapter's and provider's own.
 * README, local.settings.example.json and the Bicep app settings are checked against this.
 */
export const ALL_SETTINGS: readonly SettingInfo[] = [...SETTINGS, ...SERVICEBUS_SETTINGS, ...ESSEDUM_SETTINGS, ...COMMAND_SANDBOX_SETTINGS, ...AZURE_BATCH_SETTINGS, ...AZURE_ML_SETTINGS, ...SAGEMAKER_SETTINGS, ...VERTEX_SETTINGS, ...TELEMETRY_SETTINGS];
