import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import type { SettingInfo } from '../../src/lib/config.js';
import {
  BICEP_ROOT,
  REPO_ROOT,
  bicepPaths,
  descendants,
  guidLiterals,
  moduleDeclarations,
  objectProperties,
  parameterDefault,
  parseBicep,
  resourcesOfType,
  settingKeys,
  stringLiteral,
  variableValue,
  where,
  type BicepFile,
} from './bicep-tree.js';
import { ALL_SETTINGS, knownSettings } from './settings-source.js';

/**
 * Settings the catalogue lists for a scope that Bicep deliberately leaves unset, each with the reason.
 * Keep this list short: anything here is a setting an Azure deployment silently runs without.
 */
const OPTIONAL_IN_AZURE: Readonly<Record<string, string>> = {
  JobsStorage:
    'connection-string form (Azurite locally); Azure uses the identity-based JobsStorage__* settings because shared keys are disabled',
  ServiceBus:
    'connection-string form (emulator locally); Azure uses ServiceBus__fullyQualifiedNamespace with the identity because local auth is disabled',
  ServiceBus__administrationEndpoint:
    'only for a local stand-in; in Azure the administration client derives it from the namespace',
  JobsStorage__queueServiceUri:
    'Storage Queue transport only; Azure runs QUEUE_TRANSPORT=servicebus, so no identity holds a Storage queue role and no queue URI is set',
  CLASSIFIER_ROW_WEIGHT:
    'override of CLASSIFIER_PRESET; unset means the preset value, setting it would pin the weighting',
  CLASSIFIER_SECOND_WEIGHT: 'override of CLASSIFIER_PRESET; unset means the preset value',
  CLASSIFIER_HIGH_PRIORITY_FACTOR: 'override of CLASSIFIER_PRESET; unset means the preset value',
  CLASSIFIER_LOW_PRIORITY_FACTOR: 'override of CLASSIFIER_PRESET; unset means the preset value',
  CLASSIFIER_SPARK_THRESHOLD: 'override of CLASSIFIER_PRESET; unset means the preset value',
  CLASSIFIER_ML_THRESHOLD: 'override of CLASSIFIER_PRESET; unset means the preset value',
};

/** Settings Bicep sets that the platform or an SDK reads, not our code (so not in the catalogue). */
const PLATFORM_SETTINGS: Readonly<Record<string, string>> = {
  AzureWebJobsStorage__accountName: 'Functions host storage, identity-based',
  AzureWebJobsStorage__credential: 'Functions host storage, identity-based',
  AzureWebJobsStorage__clientId: 'Functions host storage: which user-assigned identity',
  APPLICATIONINSIGHTS_CONNECTION_STRING: 'Functions host telemetry',
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Entra ID auth of telemetry (local auth disabled)',
  ServiceBus__fullyQualifiedNamespace: "identity-based connection 'ServiceBus' of the Service Bus triggers",
  ServiceBus__credential: "identity-based connection 'ServiceBus'",
  ServiceBus__clientId: "identity-based connection 'ServiceBus': which user-assigned identity",
  AZURE_CLIENT_ID: 'DefaultAzureCredential: user-assigned identity for clients built without a client id',
  WEBSITE_SITE_NAME: 'set by App Service on every Function App; tells Azure (function keys) from the local runner',
};

let main: BicepFile;
let known: Map<string, SettingInfo>;
let apiSettings: Map<string, import('web-tree-sitter').Node>;
let actorSettings: Map<string, import('web-tree-sitter').Node>;
let sparkSettings: Map<string, import('web-tree-sitter').Node>;
let files: BicepFile[];

function moduleParams(file: BicepFile, modulePathEnd: string, symbol?: string) {
  const mods = moduleDeclarations(file).filter(
    (m) => m.path.endsWith(modulePathEnd) && (symbol === undefined || m.symbol === symbol),
  );
  if (mods.length === 0)
    throw new Error(`${file.path}: no module '${modulePathEnd}'${symbol ? ` named ${symbol}` : ''}`);
  return mods;
}

/** Keys of the settings object passed to a module parameter (resolving variables and union()). */
function settingsPassedTo(file: BicepFile, modulePathEnd: string, param: string, symbol?: string) {
  const [mod] = moduleParams(file, modulePathEnd, symbol);
  const expr = mod!.params.get(param);
  if (!expr) throw new Error(`${where(file, mod!.node)}: module ${mod!.symbol} passes no '${param}'`);
  return settingKeys(file, expr);
}

beforeAll(async () => {
  files = await Promise.all(bicepPaths().map((p) => parseBicep(p)));
  main = files.find((f) => f.path === 'infra/bicep/main.bicep')!;
  known = await knownSettings();
  apiSettings = settingsPassedTo(main, 'modules/function-app.bicep', 'appSettings');
  actorSettings = settingsPassedTo(main, 'modules/worker-app.bicep', 'env', 'actorWorker');
  sparkSettings = settingsPassedTo(main, 'modules/worker-app.bicep', 'env', 'sparkWorker');
});

describe('Bicep app settings vs the settings catalogue', () => {
  // Bicep is checked against every settings module (so an adapter's settings count before they are
  // aggregated); local.settings.example.json against the catalogue the lead curates (ALL_SETTINGS).
  const scoped = (scope: 'app' | 'worker') => [...known.values()].filter((s) => s.scope.includes(scope));
  const catalogued = (scope: 'app' | 'worker') => ALL_SETTINGS.filter((s) => s.scope.includes(scope));

  it("sets every 'app' setting on the Function App (or allow-lists it with a reason)", () => {
    const missing = scoped('app')
      .filter((s) => !apiSettings.has(s.name) && !(s.name in OPTIONAL_IN_AZURE))
      .map((s) => s.name);
    expect(missing, `infra/bicep/main.bicep (apiAppSettings) does not set: ${missing.join(', ')}`).toEqual([]);
    expect(scoped('app').length).toBeGreaterThan(10);
  });

  it("sets every 'worker' setting on both worker container apps", () => {
    for (const [name, set] of [
      ['actor', actorSettings],
      ['spark', sparkSettings],
    ] as const) {
      const missing = scoped('worker')
        .filter((s) => !set.has(s.name) && !(s.name in OPTIONAL_IN_AZURE))
        .map((s) => s.name);
      expect(
        missing,
        `the ${name} worker app (main.bicep ${name}WorkerSettings) does not set: ${missing.join(', ')}`,
      ).toEqual([]);
    }
    expect(stringLiteral(actorSettings.get('WORKER_MODE'))).toBe('actor');
    expect(stringLiteral(sparkSettings.get('WORKER_MODE'))).toBe('spark');
  });

  it('knows every environment variable the code reads by name (so Bicep can set it)', () => {
    const unknown: string[] = [];
    for (const src of scanSources()) {
      for (const m of src.text.matchAll(/(?:process\.env|\benv)(?:\.([A-Za-z_]\w*)|\[['"]([A-Za-z_]\w*)['"]\])/g)) {
        const name = m[1] ?? m[2]!;
        if (!known.has(name) && !(name in PLATFORM_SETTINGS) && !['NODE_ENV'].includes(name))
          unknown.push(`${src.file}: ${name}`);
      }
    }
    expect(unknown, `settings read by the code but declared in no settings module:\n${unknown.join('\n')}`).toEqual([]);
  });

  it('allow-lists only real settings that Bicep indeed leaves unset', () => {
    for (const name of Object.keys(OPTIONAL_IN_AZURE)) {
      expect(known.has(name), `OPTIONAL_IN_AZURE names ${name}, which is not in the settings catalogue`).toBe(true);
      expect(
        apiSettings.has(name) || actorSettings.has(name),
        `${name} is allow-listed as optional but Bicep sets it; drop it from the list`,
      ).toBe(false);
    }
  });

  it('sets no name the code does not read (typos, stale settings)', () => {
    const unknown = [...new Set([...apiSettings.keys(), ...actorSettings.keys(), ...sparkSettings.keys()])].filter(
      (k) => !known.has(k) && !(k in PLATFORM_SETTINGS),
    );
    expect(
      unknown,
      `Bicep sets settings that no catalogue or provider settings.ts declares: ${unknown.join(', ')}`,
    ).toEqual([]);
  });

  it('passes secrets only as Key Vault references', () => {
    const plain = [...apiSettings]
      .filter(([k]) => known.get(k)?.secret)
      .filter(([, v]) => !/^'@Microsoft\.KeyVault\(SecretUri=/.test(v.text))
      .map(([k, v]) => `${k} (${where(main, v)})`);
    expect(plain, `secret settings set to plain values: ${plain.join(', ')}`).toEqual([]);
    const kvRefs = [...apiSettings].filter(([, v]) => v.text.startsWith("'@Microsoft.KeyVault("));
    expect(kvRefs.map(([k]) => k)).toEqual(
      expect.arrayContaining(['SAGEMAKER_SECRET_ACCESS_KEY', 'VERTEX_CREDENTIALS_JSON']),
    );
  });

  it('lists every app setting in local.settings.example.json (written by the lead at the repo root)', () => {
    const path = join(REPO_ROOT, 'local.settings.example.json');
    expect(existsSync(path), 'local.settings.example.json is missing at the repository root').toBe(true);
    const values = (JSON.parse(readFileSync(path, 'utf8')) as { Values?: Record<string, unknown> }).Values ?? {};
    const missing = catalogued('app')
      .map((s) => s.name)
      .filter((n) => !(n in values));
    expect(missing, `local.settings.example.json Values lacks: ${missing.join(', ')}`).toEqual([]);
  });

  it('sets every worker setting in the AKS ConfigMap too (WORKER_MODE per deployment)', () => {
    const docs = parseAllDocuments(readFileSync(join(REPO_ROOT, 'infra/k8s/worker-config.yaml'), 'utf8')).map(
      (d) => d.toJS() as { kind?: string; data?: Record<string, string> },
    );
    const data = docs.find((d) => d.kind === 'ConfigMap')?.data ?? {};
    const missing = scoped('worker')
      .map((s) => s.name)
      .filter((n) => n !== 'WORKER_MODE' && !(n in data) && !(n in OPTIONAL_IN_AZURE));
    expect(missing, `infra/k8s/worker-config.yaml lacks: ${missing.join(', ')}`).toEqual([]);
  });
});

describe('queues, tables and containers the code uses are declared', () => {
  const nameVars: Array<{ kind: string; variable: string; settings: (s: SettingInfo) => boolean }> = [
    {
      kind: 'queue',
      variable: 'queueNames',
      settings: (s) => /^QUEUE_/.test(s.name) && !['QUEUE_TRANSPORT', 'QUEUE_MAX_DELIVERIES'].includes(s.name),
    },
    { kind: 'table', variable: 'tableNames', settings: (s) => /_TABLE$/.test(s.name) },
    { kind: 'container', variable: 'containerNames', settings: (s) => /_CONTAINER$/.test(s.name) },
  ];

  it.each(nameVars)(
    'every $kind default in the catalogue is in main.bicep var $variable and wired to its setting',
    async ({ kind, variable, settings }) => {
      const obj = variableValue(main, variable);
      expect(obj?.type, `main.bicep has no object var ${variable}`).toBe('object');
      const declared = new Map([...objectProperties(obj!)].map(([k, v]) => [k, stringLiteral(v)]));
      const all = [...(await knownSettings()).values()].filter(settings).filter((s) => s.default);
      expect(all.length).toBeGreaterThan(0);
      for (const s of all) {
        const key = [...declared].find(([, v]) => v === s.default)?.[0];
        expect(
          key,
          `${kind} '${s.default}' (default of ${s.name}) is not declared in main.bicep var ${variable}`,
        ).toBeDefined();
        const setting = apiSettings.get(s.name) ?? actorSettings.get(s.name);
        if (setting) expect(setting.text, `${s.name} should be set from ${variable}.${key}`).toBe(`${variable}.${key}`);
      }
    },
  );

  it('passes every declared name to the module that creates it, which loops over it', async () => {
    const wiring: Array<[string, string, string, string]> = [
      ['modules/servicebus.bicep', 'queueNames', 'queueNames', 'Microsoft.ServiceBus/namespaces/queues'],
      ['modules/storage.bicep', 'tableNames', 'tableNames', 'Microsoft.Storage/storageAccounts/tableServices/tables'],
      [
        'modules/storage.bicep',
        'containerNames',
        'containerNames',
        'Microsoft.Storage/storageAccounts/blobServices/containers',
      ],
    ];
    for (const [modulePath, param, variable, resourceType] of wiring) {
      const [mod] = moduleParams(main, modulePath);
      const passed = mod!.params.get(param);
      expect(passed?.type, `${modulePath}: '${param}' should be an array literal`).toBe('array');
      const members = new Set(passed!.namedChildren.map((n) => n.text));
      for (const key of objectProperties(variableValue(main, variable)!).keys()) {
        expect(
          members.has(`${variable}.${key}`),
          `main.bicep does not pass ${variable}.${key} to ${modulePath} (${param})`,
        ).toBe(true);
      }
      const moduleFile = files.find((f) => f.path === join('infra/bicep', modulePath))!;
      const resources = resourcesOfType(moduleFile, resourceType);
      expect(
        resources.some((r) => new RegExp(`\\[for \\w+ in ${param}:`).test(r.text)),
        `${modulePath} declares no ${resourceType} looping over param ${param}`,
      ).toBe(true);
    }
  });
});

describe('delivery settings agree between Service Bus and the app', () => {
  it('maxDeliveryCount = QUEUE_MAX_DELIVERIES and lockDuration = WORKER_LOCK_SEC', () => {
    const [sb] = moduleParams(main, 'modules/servicebus.bicep');
    expect(sb!.params.get('maxDeliveryCount')?.text).toBe('maxDeliveries');
    expect(sb!.params.get('lockDurationSec')?.text).toBe('workerLockSec');
    expect(apiSettings.get('QUEUE_MAX_DELIVERIES')?.text).toBe('string(maxDeliveries)');
    expect(actorSettings.get('WORKER_LOCK_SEC')?.text).toBe('string(workerLockSec)');
    const catalogue = (n: string) => ALL_SETTINGS.find((s) => s.name === n)?.default;
    expect(
      parameterDefault(main, 'maxDeliveries')?.text,
      'maxDeliveries default differs from QUEUE_MAX_DELIVERIES',
    ).toBe(catalogue('QUEUE_MAX_DELIVERIES'));
    expect(parameterDefault(main, 'workerLockSec')?.text, 'workerLockSec default differs from WORKER_LOCK_SEC').toBe(
      catalogue('WORKER_LOCK_SEC'),
    );
    expect(parameterDefault(main, 'workerShutdownGraceSec')?.text).toBe(catalogue('WORKER_SHUTDOWN_GRACE_SEC'));
    const params = (
      JSON.parse(readFileSync(join(BICEP_ROOT, 'main.parameters.json'), 'utf8')) as {
        parameters: Record<string, { value: unknown }>;
      }
    ).parameters;
    expect(String(params.maxDeliveries?.value ?? catalogue('QUEUE_MAX_DELIVERIES'))).toBe(
      catalogue('QUEUE_MAX_DELIVERIES'),
    );
    expect(String(params.workerLockSec?.value ?? catalogue('WORKER_LOCK_SEC'))).toBe(catalogue('WORKER_LOCK_SEC'));
  });

  it('host.json maxDequeueCount (Storage queues) equals the Service Bus maxDeliveryCount', () => {
    const path = join(REPO_ROOT, 'host.json');
    expect(existsSync(path), 'host.json is missing at the repository root').toBe(true);
    const host = JSON.parse(readFileSync(path, 'utf8')) as { extensions?: { queues?: { maxDequeueCount?: number } } };
    const dequeue = host.extensions?.queues?.maxDequeueCount ?? 5; // the host's documented default
    expect(String(dequeue), 'host.json extensions.queues.maxDequeueCount differs from main.bicep maxDeliveries').toBe(
      parameterDefault(main, 'maxDeliveries')?.text,
    );
  });

  it('each Service Bus queue sets maxDeliveryCount, lockDuration and dead-lettering on expiry', () => {
    const sbFile = files.find((f) => f.path.endsWith('modules/servicebus.bicep'))!;
    const [queues] = resourcesOfType(sbFile, 'Microsoft.ServiceBus/namespaces/queues');
    const props = descendants(queues!).find(
      (n) => n.type === 'object_property' && n.namedChildren[0]?.text === 'properties',
    );
    const set = objectProperties(props!.namedChildren[1]!);
    expect(set.get('maxDeliveryCount')?.text).toBe('maxDeliveryCount');
    expect(set.get('lockDuration')?.text).toBe("'PT${lockDurationSec}S'");
    expect(set.get('deadLetteringOnMessageExpiration')?.text).toBe('true');
  });

  it('runs the Service Bus transport on every host (no identity holds a Storage queue role)', () => {
    for (const [host, set] of [
      ['Function App', apiSettings],
      ['actor worker', actorSettings],
      ['spark worker', sparkSettings],
    ] as const) {
      expect(stringLiteral(set.get('QUEUE_TRANSPORT')), `${host} QUEUE_TRANSPORT`).toBe('servicebus');
      expect(set.has('JobsStorage__queueServiceUri'), `${host} gets a Storage queue URI it has no role for`).toBe(
        false,
      );
    }
  });

  it('shared keys and local auth are off (identity only)', () => {
    const value = (path: string, key: string) =>
      descendants(files.find((f) => f.path.endsWith(path))!.root)
        .filter((n) => n.type === 'object_property' && n.namedChildren[0]?.text === key)
        .map((n) => n.namedChildren[1]?.text);
    expect(value('modules/storage.bicep', 'allowSharedKeyAccess')).toEqual(['false']);
    expect(value('modules/host-storage.bicep', 'allowSharedKeyAccess')).toEqual(['false']);
    expect(value('modules/servicebus.bicep', 'disableLocalAuth')).toEqual(['true']);
    expect(value('modules/monitoring.bicep', 'DisableLocalAuth')).toEqual(['true']);
    expect(value('modules/keyvault.bicep', 'enableRbacAuthorization')).toEqual(['true']);
  });
});

/** Built-in role definition ids, named, for the messages. */
const ROLES = {
  tableDataContributor: ['0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3', 'Storage Table Data Contributor'],
  queueDataContributor: ['974c5e8b-45b9-4653-ba55-5f855dd0fb88', 'Storage Queue Data Contributor'],
  blobDataOwner: ['b7e6dc6d-f1e8-4753-8033-0f276bb0955b', 'Storage Blob Data Owner'],
  blobDataContributor: ['ba92f5b4-2d11-453d-a403-e96b0029c9fe', 'Storage Blob Data Contributor'],
  blobDataReader: ['2a2b9908-6ea1-4ae2-8e65-a410df84e7d1', 'Storage Blob Data Reader'],
  blobDelegator: ['db58b8e5-c6ad-4a2a-8342-4190687cbf4a', 'Storage Blob Delegator'],
  serviceBusDataOwner: ['090c5cfd-751d-490a-894a-3ce6f1109419', 'Azure Service Bus Data Owner'],
  serviceBusDataSender: ['69a216fc-b8fb-44d8-bc22-1f3c2cd27a39', 'Azure Service Bus Data Sender'],
  serviceBusDataReceiver: ['4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0', 'Azure Service Bus Data Receiver'],
  batchDataContributor: ['6aaa78f1-f7de-44ca-8722-c64a23943cae', 'Azure Batch Data Contributor'],
  batchAccountContributor: ['29fe4964-1e60-436b-bd3a-77fd4c178b3c', 'Azure Batch Account Contributor'],
  azureMlDataScientist: ['f6c7c914-8db3-469d-8ca1-694a8f32e121', 'AzureML Data Scientist'],
  keyVaultSecretsUser: ['4633458b-17de-408a-b874-0445c86b69e6', 'Key Vault Secrets User'],
  acrPull: ['7f951dda-4ed3-4680-a7ca-43fe172d538d', 'AcrPull'],
  monitoringMetricsPublisher: ['3913510d-42f4-4e42-8a64-420c390055eb', 'Monitoring Metrics Publisher'],
} as const satisfies Record<string, readonly [string, string]>;
type Role = keyof typeof ROLES;

/** Import specifiers and notable identifiers per source file under src/. */
function scanSources(): Array<{ file: string; imports: Set<string>; text: string }> {
  const out: Array<{ file: string; imports: Set<string>; text: string }> = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) {
        const text = readFileSync(p, 'utf8');
        const imports = new Set<string>();
        for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)['"]([^'"]+)['"]/g)) imports.add(m[1]!);
        out.push({ file: relative(REPO_ROOT, p), imports, text });
      }
    }
  };
  walk(join(REPO_ROOT, 'src'));
  // The cjo command line is a client of the API, not part of the app: its CJO_* variables are the
  // user's, never an app setting.
  return out.filter((s) => !s.file.startsWith(join('src', 'cli')));
}

describe('role assignments cover every data-plane call', () => {
  let granted: Set<string>;
  let assignments: Array<{ file: BicepFile; guids: string[] }>;

  beforeAll(() => {
    assignments = files.flatMap((file) =>
      resourcesOfType(file, 'Microsoft.Authorization/roleAssignments').map((r) => ({ file, guids: guidLiterals(r) })),
    );
    granted = new Set(assignments.flatMap((a) => a.guids));
  });

  const requirement = (roles: Role[][]): string | undefined => {
    // Each inner list is "any of"; all outer entries are required.
    const unmet = roles.filter((anyOf) => !anyOf.some((r) => granted.has(ROLES[r][0])));
    return unmet.length === 0
      ? undefined
      : unmet.map((anyOf) => anyOf.map((r) => `${ROLES[r][1]} (${ROLES[r][0]})`).join(' or ')).join('; ');
  };

  it('grants a role for each Azure SDK the code imports', () => {
    // Azure runs the Service Bus transport (checked below), so the Storage queue SDK needs no role there.
    const storageQueuesInAzure = stringLiteral(apiSettings.get('QUEUE_TRANSPORT')) !== 'servicebus';
    const sdkRoles: Record<string, Role[][]> = {
      '@azure/data-tables': [['tableDataContributor']],
      ...(storageQueuesInAzure ? { '@azure/storage-queue': [['queueDataContributor']] as Role[][] } : {}),
      '@azure/storage-blob': [['blobDataOwner', 'blobDataContributor']],
      '@azure/batch': [['batchDataContributor', 'batchAccountContributor']],
      '@azure/arm-machinelearning': [['azureMlDataScientist']],
    };
    const problems: string[] = [];
    const sources = scanSources();
    for (const src of sources) {
      for (const spec of src.imports) {
        const need = sdkRoles[spec];
        const unmet = need && requirement(need);
        if (unmet) problems.push(`${src.file} imports ${spec} but no role assignment in infra/bicep grants ${unmet}`);
      }
      if (src.imports.has('@azure/service-bus')) {
        // The administration client (queue runtime properties for /queues/status) needs Manage.
        const needsManage = /ServiceBusAdministrationClient/.test(src.text);
        const unmet = requirement(
          needsManage
            ? [['serviceBusDataOwner']]
            : [
                ['serviceBusDataOwner', 'serviceBusDataSender'],
                ['serviceBusDataOwner', 'serviceBusDataReceiver'],
              ],
        );
        if (unmet)
          problems.push(
            `${src.file} uses @azure/service-bus${needsManage ? ' (administration client)' : ''} but Bicep grants no ${unmet}`,
          );
      }
      if (/getUserDelegationKey|generateUserDelegationSas|UserDelegationKey/.test(src.text)) {
        const unmet = requirement([['blobDelegator', 'blobDataOwner', 'blobDataContributor']]);
        if (unmet) problems.push(`${src.file} signs user-delegation SAS but Bicep grants no ${unmet}`);
      }
      if (/Microsoft\.MachineLearningServices/.test(src.text)) {
        const unmet = requirement([['azureMlDataScientist']]);
        if (unmet) problems.push(`${src.file} calls the Azure ML REST API but Bicep grants no ${unmet}`);
      }
    }
    expect(problems, problems.join('\n')).toEqual([]);
    // The scan sees the code: the blob adapter exists, so at least that SDK is found.
    expect(sources.some((s) => s.imports.has('@azure/storage-blob'))).toBe(true);
  });

  it('grants what the platform features in Bicep need', () => {
    const all = files.map((f) => f.source).join('\n');
    const problems: string[] = [];
    if (all.includes('@Microsoft.KeyVault(')) {
      const unmet = requirement([['keyVaultSecretsUser']]);
      if (unmet) problems.push(`Key Vault references are used but no ${unmet}`);
    }
    if (apiSettings.has('APPLICATIONINSIGHTS_AUTHENTICATION_STRING')) {
      const unmet = requirement([['monitoringMetricsPublisher']]);
      if (unmet) problems.push(`Entra ID telemetry is configured but no ${unmet}`);
    }
    if (/registries:\s*\[/.test(all) || /containerRegistries:/.test(all)) {
      const unmet = requirement([['acrPull']]);
      if (unmet) problems.push(`images are pulled with the identity but no ${unmet}`);
    }
    if (apiSettings.has('ServiceBus__fullyQualifiedNamespace')) {
      const unmet = requirement([['serviceBusDataOwner', 'serviceBusDataReceiver']]);
      if (unmet) problems.push(`Service Bus triggers (and KEDA scale rules) need ${unmet}`);
    }
    expect(problems, problems.join('\n')).toEqual([]);
  });

  it('names every role definition GUID in a comment of the same file', () => {
    const unnamed: string[] = [];
    for (const { file, guids } of assignments) {
      const comments = descendants(file.root)
        .filter((n) => n.type === 'comment')
        .map((n) => n.text.toLowerCase());
      for (const g of guids) if (!comments.some((c) => c.includes(g))) unnamed.push(`${file.path}: ${g}`);
    }
    expect(assignments.length).toBeGreaterThanOrEqual(10);
    expect(unnamed, `role GUIDs without a comment naming the role:\n${unnamed.join('\n')}`).toEqual([]);
  });
});

describe('azure.yaml services match the Bicep tags', () => {
  it('has api (function, ts) and worker (containerapp, Dockerfile) services, each tagged in Bicep', () => {
    const azure = parseYaml(readFileSync(join(REPO_ROOT, 'azure.yaml'), 'utf8')) as {
      infra?: { path?: string; module?: string };
      services: Record<string, { host: string; language: string; project: string; docker?: { path?: string } }>;
    };
    expect(azure.infra?.path).toBe('infra/bicep');
    expect(azure.services.api).toMatchObject({ host: 'function', language: 'ts' });
    expect(azure.services.worker).toMatchObject({ host: 'containerapp' });
    const all = files.map((f) => f.source).join('\n');
    for (const [name, svc] of Object.entries(azure.services)) {
      if (svc.docker?.path)
        expect(
          existsSync(join(REPO_ROOT, svc.project, svc.docker.path)),
          `${name}: ${svc.docker.path} does not exist`,
        ).toBe(true);
      const tagged = all.includes(`'azd-service-name': '${name}'`) || all.includes(`azdServiceName: '${name}'`);
      expect(tagged, `no resource in infra/bicep is tagged azd-service-name: ${name}`).toBe(true);
    }
  });
});
