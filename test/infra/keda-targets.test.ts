import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  BICEP_ROOT,
  REPO_ROOT,
  descendants,
  moduleDeclarations,
  objectProperties,
  parameterDefault,
  parseBicep,
  stringLiteral,
  type BicepFile,
} from './bicep-tree.js';

/**
 * The original orchestrator's KEDA targets (azure-servicebus trigger; actor 5, spark 3 messages per
 * replica, at most 10); the floor is 0 so idle workers cost nothing.
 */
const SEED = {
  actor: { queue: 'actor-jobs', messagesPerReplica: 5 },
  spark: { queue: 'spark-jobs', messagesPerReplica: 3 },
  maxReplicas: 10,
  minReplicas: 0,
} as const;

type Mode = 'actor' | 'spark';

let main: BicepFile;
let workerApp: BicepFile;
let parameters: Record<string, { value: unknown }>;

/** A main.bicep parameter's effective value: main.parameters.json if it sets one, else the default. */
function effective(name: string): string | undefined {
  const fromFile = parameters[name]?.value;
  if (fromFile !== undefined) return String(fromFile);
  return parameterDefault(main, name)?.text;
}

function workerModule(mode: Mode) {
  const m = moduleDeclarations(main).find(
    (d) => d.path.endsWith('modules/worker-app.bicep') && d.symbol === `${mode}Worker`,
  );
  if (!m) throw new Error(`main.bicep has no module ${mode}Worker (modules/worker-app.bicep)`);
  return m;
}

/** Resolves a module argument: a main.bicep parameter name gives its effective value; a literal itself. */
function argument(mode: Mode, param: string): string | undefined {
  const node = workerModule(mode).params.get(param);
  if (!node) return undefined;
  if (node.type === 'identifier') return effective(node.text);
  return stringLiteral(node) ?? node.text;
}

beforeAll(async () => {
  main = await parseBicep(join(BICEP_ROOT, 'main.bicep'));
  workerApp = await parseBicep(join(BICEP_ROOT, 'modules/worker-app.bicep'));
  parameters = (
    JSON.parse(readFileSync(join(BICEP_ROOT, 'main.parameters.json'), 'utf8')) as {
      parameters: Record<string, { value: unknown }>;
    }
  ).parameters;
});

describe('KEDA targets in Bicep (Container Apps)', () => {
  it.each(['actor', 'spark'] as const)(
    'the %s worker scales on its queue at the seed target, 0 to 10 replicas',
    (mode) => {
      expect(workerModule(mode).params.get('queueName')?.text, `${mode}Worker should scale on queueNames.${mode}`).toBe(
        `queueNames.${mode}`,
      );
      expect(argument(mode, 'messagesPerReplica'), `${mode} messages per replica`).toBe(
        String(SEED[mode].messagesPerReplica),
      );
      expect(argument(mode, 'maxReplicas'), `${mode} max replicas`).toBe(String(SEED.maxReplicas));
      // minReplicas is not overridden, so the module default (0) applies.
      const min = workerModule(mode).params.get('minReplicas');
      expect(min === undefined ? parameterDefault(workerApp, 'minReplicas')?.text : argument(mode, 'minReplicas')).toBe(
        String(SEED.minReplicas),
      );
      expect(argument(mode, 'cooldownPeriodSec'), `${mode} needs a cooldown`).toMatch(/^[1-9]\d*$/);
    },
  );

  it('uses an azure-servicebus custom rule with identity auth, namespace and messageCount', () => {
    const rules = descendants(workerApp.root).filter(
      (n) => n.type === 'object_property' && n.namedChildren[0]?.text === 'custom',
    );
    expect(rules, 'worker-app.bicep should declare exactly one custom scale rule').toHaveLength(1);
    const custom = objectProperties(rules[0]!.namedChildren[1]!);
    expect(stringLiteral(custom.get('type'))).toBe('azure-servicebus');
    // The platform identity (lifecycle None): Data Owner on the queue, which the code never gets.
    expect(custom.get('identity')?.text, 'the scale rule must authenticate with the platform identity').toBe(
      'platformIdentityId',
    );
    expect(custom.has('auth'), 'no secret-based auth next to identity').toBe(false);
    const metadata = objectProperties(custom.get('metadata')!);
    expect(metadata.get('namespace')?.text).toBe('serviceBusNamespace');
    expect(metadata.get('queueName')?.text).toBe('queueName');
    expect(metadata.get('messageCount')?.text).toBe('string(messagesPerReplica)');
    // The namespace NAME, not the host name, is what the scaler wants with identity auth.
    expect(workerModule('actor').params.get('serviceBusNamespace')?.text).toBe('serviceBus.outputs.name');
  });

  it('uses a Container Apps API version that accepts identity on scale rules', () => {
    const types = descendants(workerApp.root)
      .filter((n) => n.type === 'resource_declaration')
      .map((n) => stringLiteral(n.namedChildren[1]) ?? '');
    const app = types.find((t) => t.startsWith('Microsoft.App/containerApps@'));
    expect(app).toBeDefined();
    const version = app!.split('@')[1]!;
    expect(
      version >= '2024-02-02-preview' || version === '2025-01-01',
      `API ${version} predates scale-rule identity`,
    ).toBe(true);
  });

  it('gives the worker longer than WORKER_SHUTDOWN_GRACE_SEC before SIGKILL', () => {
    const grace = descendants(workerApp.root).find(
      (n) => n.type === 'object_property' && n.namedChildren[0]?.text === 'terminationGracePeriodSeconds',
    );
    expect(grace?.namedChildren[1]?.text).toMatch(/^shutdownGraceSec \+ [1-9]\d*$/);
    expect(workerModule('actor').params.get('shutdownGraceSec')?.text).toBe('workerShutdownGraceSec');
  });
});

describe('KEDA targets in the AKS manifests', () => {
  type Doc = { kind?: string; metadata?: { name?: string }; spec?: Record<string, unknown> };
  const docs = (file: string): Doc[] =>
    parseAllDocuments(readFileSync(join(REPO_ROOT, 'infra/k8s', file), 'utf8')).map((d) => d.toJS() as Doc);

  it.each(['actor', 'spark'] as const)('the %s-worker ScaledObject matches the seed and the Bicep rule', (mode) => {
    const keda = docs('keda.yaml');
    const so = keda.find(
      (d) => d.kind === 'ScaledObject' && (d.spec?.scaleTargetRef as { name?: string })?.name === `${mode}-worker`,
    );
    expect(so, `no ScaledObject targets ${mode}-worker`).toBeDefined();
    const spec = so!.spec as {
      minReplicaCount: number;
      maxReplicaCount: number;
      cooldownPeriod: number;
      triggers: Array<{ type: string; metadata: Record<string, string>; authenticationRef?: { name: string } }>;
    };
    expect(spec.maxReplicaCount, `${mode}-worker maxReplicaCount`).toBe(SEED.maxReplicas);
    expect(spec.minReplicaCount, `${mode}-worker minReplicaCount`).toBe(SEED.minReplicas);
    expect(String(spec.cooldownPeriod), 'cooldown differs from Bicep workerCooldownSec').toBe(
      effective('workerCooldownSec'),
    );
    expect(spec.triggers).toHaveLength(1);
    const [t] = spec.triggers;
    expect(t!.type).toBe('azure-servicebus');
    expect(t!.metadata.queueName, `${mode}-worker queueName`).toBe(SEED[mode].queue);
    expect(t!.metadata.messageCount, `${mode}-worker messageCount (infra/k8s/keda.yaml)`).toBe(
      String(SEED[mode].messagesPerReplica),
    );
    expect(t!.metadata.namespace, 'identity auth needs the namespace metadata').toBeTruthy();
    expect(
      t!.metadata.connectionFromEnv ?? t!.metadata.connection,
      'no connection string: workload identity only',
    ).toBeUndefined();
    const auth = keda.find(
      (d) => d.kind === 'TriggerAuthentication' && d.metadata?.name === t!.authenticationRef?.name,
    );
    expect((auth?.spec?.podIdentity as { provider?: string } | undefined)?.provider).toBe('azure-workload');
    // The scaler's identity is not the pods' identity (the Bicep split: platform vs worker code).
    const podIdentity = docs('namespace.yaml').find((d) => d.kind === 'ServiceAccount')?.metadata as
      | { annotations?: Record<string, string> }
      | undefined;
    const scaler = (auth?.spec?.podIdentity as { identityId?: string } | undefined)?.identityId;
    expect(scaler).toBe('${WORKER_PLATFORM_IDENTITY_CLIENT_ID}');
    expect(podIdentity?.annotations?.['azure.workload.identity/client-id']).toBe('${WORKER_IDENTITY_CLIENT_ID}');
  });

  it('gives pods longer than WORKER_SHUTDOWN_GRACE_SEC and runs them with workload identity', () => {
    const config = docs('worker-config.yaml').find((d) => d.kind === 'ConfigMap') as { data: Record<string, string> };
    const graceSec = Number(config.data.WORKER_SHUTDOWN_GRACE_SEC);
    const deployments = docs('workers.yaml').filter((d) => d.kind === 'Deployment');
    expect(deployments.map((d) => d.metadata?.name).sort()).toEqual(['actor-worker', 'spark-worker']);
    for (const d of deployments) {
      const pod = (
        d.spec as {
          template: {
            metadata: { labels: Record<string, string> };
            spec: { terminationGracePeriodSeconds: number; serviceAccountName: string };
          };
        }
      ).template;
      expect(pod.spec.terminationGracePeriodSeconds, `${d.metadata?.name}`).toBeGreaterThan(graceSec);
      expect(pod.metadata.labels['azure.workload.identity/use']).toBe('true');
      expect(pod.spec.serviceAccountName).toBe('cjo-worker');
      expect((d.spec as { replicas?: number }).replicas, 'replicas belong to KEDA').toBeUndefined();
    }
  });
});
