import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Node } from 'web-tree-sitter';
import {
  REPO_ROOT,
  bicepPaths,
  descendants,
  moduleDeclarations,
  objectProperties,
  parseBicep,
  settingKeys,
  stringLiteral,
  type BicepFile,
} from './bicep-tree.js';
import { compareRows, docRows, roleRows, type DocRow, type RoleRow } from './role-assignments.js';

/**
 * Least privilege in infra/bicep (issue 12): one identity per component, never shared; every role
 * assignment's identity, role and scope equals a row of the table in docs/deploy.md and the other way
 * round; no broad roles; a worker or a Batch node holds nothing beyond what its own code needs.
 */

const HEADING = '## Role assignments';

/** Built-in role ids and names the table may use (a wrong name next to a GUID is caught). */
const ROLE_NAMES: Readonly<Record<string, string>> = {
  '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3': 'Storage Table Data Contributor',
  '76199698-9eea-4c19-bc75-cec21354c6b6': 'Storage Table Data Reader',
  'ba92f5b4-2d11-453d-a403-e96b0029c9fe': 'Storage Blob Data Contributor',
  '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1': 'Storage Blob Data Reader',
  'b7e6dc6d-f1e8-4753-8033-0f276bb0955b': 'Storage Blob Data Owner',
  'db58b8e5-c6ad-4a2a-8342-4190687cbf4a': 'Storage Blob Delegator',
  '974c5e8b-45b9-4653-ba55-5f855dd0fb88': 'Storage Queue Data Contributor',
  '8a0f0c08-91a1-4084-bc3d-661d67233fed': 'Storage Queue Data Message Processor',
  'c6a89b2d-59bc-44d0-9896-0f6e12d7b80a': 'Storage Queue Data Message Sender',
  '090c5cfd-751d-490a-894a-3ce6f1109419': 'Azure Service Bus Data Owner',
  '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39': 'Azure Service Bus Data Sender',
  '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0': 'Azure Service Bus Data Receiver',
  '6aaa78f1-f7de-44ca-8722-c64a23943cae': 'Azure Batch Data Contributor',
  'f6c7c914-8db3-469d-8ca1-694a8f32e121': 'AzureML Data Scientist',
  '4633458b-17de-408a-b874-0445c86b69e6': 'Key Vault Secrets User',
  'b86a8fe4-44ce-4948-aee5-eccb2c155cd7': 'Key Vault Secrets Officer',
  '7f951dda-4ed3-4680-a7ca-43fe172d538d': 'AcrPull',
  '3913510d-42f4-4e42-8a64-420c390055eb': 'Monitoring Metrics Publisher',
};

/** Roles that must never appear: they reach far beyond data access. */
const BROAD_ROLES: Readonly<Record<string, string>> = {
  '8e3af657-a8ff-443c-a75c-2fe8c4bcb635': 'Owner',
  'b24988ac-6180-42a0-ab88-20f7382dd24c': 'Contributor',
  '18d7d88d-d35e-4fb5-a5c3-7773c20a72d9': 'User Access Administrator',
  '17d1049b-9a84-46fb-8f53-869881c3d3ab': 'Storage Account Contributor',
};

const DATA_OWNER = {
  blob: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
  serviceBus: '090c5cfd-751d-490a-894a-3ce6f1109419',
} as const;
const ACR_PULL = '7f951dda-4ed3-4680-a7ca-43fe172d538d';

let files: BicepFile[];
let main: BicepFile;
let rows: RoleRow[];
let problems: string[];
let documented: DocRow[];

/** The identity module symbol an expression like `apiIdentity.outputs.id` refers to. */
function identitySymbol(expr: Node | undefined): string | undefined {
  const m = expr && /^(\w+)\.outputs\.(id|clientId|principalId)$/.exec(expr.text);
  if (!m) return undefined;
  const mod = moduleDeclarations(main).find((d) => d.symbol === m[1]);
  return mod?.path.endsWith('modules/identity.bicep') ? m[1] : undefined;
}

function identityName(symbol: string): string {
  const mod = moduleDeclarations(main).find((d) => d.symbol === symbol)!;
  const name = mod.params.get('name')!;
  return `${name.namedChildren.filter((c) => c.type === 'string_content')[0]?.text ?? name.text}…`;
}

function moduleArg(symbol: string, param: string): Node | undefined {
  return moduleDeclarations(main)
    .find((d) => d.symbol === symbol)
    ?.params.get(param);
}

function workerModules() {
  return moduleDeclarations(main).filter((d) => d.path.endsWith('modules/worker-app.bicep'));
}

beforeAll(async () => {
  files = await Promise.all(bicepPaths().map((p) => parseBicep(p)));
  main = files.find((f) => f.path === 'infra/bicep/main.bicep')!;
  ({ rows, problems } = roleRows(main, files));
  documented = docRows(readFileSync(join(REPO_ROOT, 'docs/deploy.md'), 'utf8'), HEADING);
});

describe('role assignments in Bicep equal the table in docs/deploy.md', () => {
  it('resolves every role assignment to one identity, one role and a named scope', () => {
    expect(problems, problems.join('\n')).toEqual([]);
    expect(rows.length).toBeGreaterThanOrEqual(20);
    // Only deployment inputs may stay symbolic, and only where they are the input itself.
    const unresolved = rows.filter(
      (r) =>
        /\{/.test(r.principal + r.scope) &&
        !/^\{principalId\}$/.test(r.principal) &&
        !/\{azureMlWorkspaceName\}$/.test(r.scope),
    );
    expect(unresolved.map((r) => `${r.where}: ${r.principal} ${r.scope}`)).toEqual([]);
  });

  it('documents every granted role and grants every documented role (identity, role id, scope)', () => {
    expect(documented.length, `no table under '${HEADING}' in docs/deploy.md`).toBeGreaterThan(0);
    const diff = compareRows(rows, documented);
    expect(diff, diff.join('\n')).toEqual([]);
  });

  it('names each role in the table as Azure does and gives a reason for it', () => {
    const wrong = documented
      .filter((r) => ROLE_NAMES[r.roleId] !== r.roleName)
      .map(
        (r) => `docs/deploy.md:${r.line}: ${r.roleId} is '${ROLE_NAMES[r.roleId] ?? 'unknown'}', not '${r.roleName}'`,
      );
    expect(wrong, wrong.join('\n')).toEqual([]);
    const unexplained = documented.filter((r) => r.why.length < 20).map((r) => `docs/deploy.md:${r.line}`);
    expect(unexplained, `rows without a reason: ${unexplained.join(', ')}`).toEqual([]);
  });

  it('notices a granted role missing from the table and a documented role not granted (the check can fail)', () => {
    const [first, ...rest] = documented;
    expect(compareRows(rows, rest).some((m) => m.startsWith('granted in Bicep') && m.includes(first!.scope))).toBe(
      true,
    );
    const extra: DocRow = { ...first!, principal: 'id-cjo-pool-…', line: 0 };
    expect(
      compareRows(rows, [...documented, extra]).some((m) => m.startsWith('documented') && m.includes('id-cjo-pool-…')),
    ).toBe(true);
  });
});

describe('the role resolver (negative controls)', () => {
  it('reports an assignment without a scope, a scope loop it does not follow, and resolves names through the module call', async () => {
    const { mkdtempSync, writeFileSync, mkdirSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'roles-'));
    try {
      mkdirSync(join(dir, 'modules'));
      writeFileSync(
        join(dir, 'main.bicep'),
        [
          "var names = {\n  a: 'jobs'\n  b: 'jobindex'\n}",
          "module id 'modules/identity.bicep' = {\n  name: 'id'\n  params: {\n    name: 'id-x-${names.a}'\n  }\n}",
          "module acc 'modules/acc.bicep' = {\n  name: 'acc'\n  params: {\n    principal: id.outputs.principalId\n    tables: [\n      names.a\n      names.b\n    ]\n  }\n}",
        ].join('\n'),
      );
      writeFileSync(join(dir, 'modules/identity.bicep'), 'param name string\noutput principalId string = name\n');
      writeFileSync(
        join(dir, 'modules/acc.bicep'),
        [
          'param principal string',
          'param tables array',
          "resource t 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' existing = [for n in tables: {\n  name: n\n}]",
          "resource good 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (n, i) in tables: {\n  name: 'x'\n  scope: t[i]\n  properties: {\n    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3')\n    principalId: principal\n  }\n}]",
          "resource noScope 'Microsoft.Authorization/roleAssignments@2022-04-01' = {\n  name: 'y'\n  properties: {\n    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '8e3af657-a8ff-443c-a75c-2fe8c4bcb635')\n    principalId: principal\n  }\n}",
          "resource badLoop 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (n, i) in [\n  'z'\n]: {\n  name: 'z'\n  scope: t[i]\n  properties: {\n    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3')\n    principalId: principal\n  }\n}]",
        ].join('\n'),
      );
      const parsed = await Promise.all(
        ['main.bicep', 'modules/identity.bicep', 'modules/acc.bicep'].map(async (f) => ({
          ...(await parseBicep(join(dir, f))),
          path: `x/${f}`,
        })),
      );
      const result = roleRows(parsed[0]!, parsed);
      expect(result.rows.map((r) => `${r.principal} ${r.scope}`)).toEqual([
        'id-x-… table jobs',
        'id-x-… table jobindex',
      ]);
      expect(result.problems.some((p) => /no scope/.test(p))).toBe(true);
      expect(result.problems.some((p) => /loops over/.test(p))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('no identity is shared between the Function App, the workers and the Batch pool', () => {
  it('gives each component its own identity module', () => {
    const api = identitySymbol(moduleArg('functionApp', 'identityId'));
    const workers = workerModules().map((m) => identitySymbol(m.params.get('identityId')));
    const platforms = workerModules().map((m) => identitySymbol(m.params.get('platformIdentityId')));
    const pool = identitySymbol(moduleArg('batch', 'poolIdentityId'));
    expect(api, 'the Function App must use an identity module').toBeDefined();
    expect(pool, 'the Batch pool must use an identity module').toBeDefined();
    expect(workers).toHaveLength(2);
    expect(new Set(workers).size, 'both worker apps share the worker identity').toBe(1);
    expect(new Set(platforms).size).toBe(1);
    const groups = [api, workers[0], platforms[0], pool];
    expect(groups.every(Boolean)).toBe(true);
    expect(new Set(groups).size, `identities shared between components: ${groups.join(', ')}`).toBe(4);
    expect(new Set(groups.map((g) => identityName(g!))).size, 'identity names must differ').toBe(4);
  });

  it('attaches no identity to a host but its own (Function App, worker apps, Batch account, pool)', () => {
    const attached = (path: string) =>
      descendants(files.find((f) => f.path.endsWith(path))!.root)
        .filter((n) => n.type === 'object_property' && n.namedChildren[0]?.text === 'userAssignedIdentities')
        .map((n) => n.namedChildren[1]!.text.replace(/\s+/g, ' '));
    // The Function App takes one identity, the worker app two (code + platform), the pool one; the
    // Batch account none (no auto-storage, no customer-managed keys).
    expect(attached('modules/function-app.bicep')).toEqual(["{ '${identityId}': {} }"]);
    expect(attached('modules/worker-app.bicep')).toEqual(["{ '${identityId}': {} '${platformIdentityId}': {} }"]);
    expect(attached('modules/batch.bicep')).toEqual(["{ '${poolIdentityId}': {} }"]);
  });

  it("points each host's client-id settings at its own identity", () => {
    const [fa] = moduleDeclarations(main).filter((m) => m.symbol === 'functionApp');
    const api = identitySymbol(fa!.params.get('identityId'))!;
    const apiSettings = settingKeys(main, fa!.params.get('appSettings')!);
    for (const key of [
      'AZURE_CLIENT_ID',
      'JobsStorage__clientId',
      'ServiceBus__clientId',
      'AzureWebJobsStorage__clientId',
    ]) {
      expect(apiSettings.get(key)?.text, `Function App ${key}`).toBe(`${api}.outputs.clientId`);
    }
    expect(apiSettings.get('APPLICATIONINSIGHTS_AUTHENTICATION_STRING')?.text).toContain(`${api}.outputs.clientId`);
    expect(
      apiSettings.get('AZURE_BATCH_REGISTRY_IDENTITY_RESOURCE_ID')?.text,
      'nodes pull with the pool identity',
    ).toBe(`${identitySymbol(moduleArg('batch', 'poolIdentityId'))}.outputs.id`);
    for (const w of workerModules()) {
      const worker = identitySymbol(w.params.get('identityId'))!;
      const env = settingKeys(main, w.params.get('env')!);
      for (const key of ['AZURE_CLIENT_ID', 'JobsStorage__clientId', 'ServiceBus__clientId']) {
        expect(env.get(key)?.text, `${w.symbol} ${key}`).toBe(`${worker}.outputs.clientId`);
      }
      expect(env.has('AzureWebJobsStorage__accountName'), 'workers never get the host storage account').toBe(false);
    }
  });

  it('keeps the worker platform identity away from the containers (lifecycle None) and the code identity in Main', () => {
    const file = files.find((f) => f.path.endsWith('modules/worker-app.bicep'))!;
    const settings = descendants(file.root).find(
      (n) => n.type === 'object_property' && n.namedChildren[0]?.text === 'identitySettings',
    );
    expect(settings, 'worker-app.bicep sets no identitySettings').toBeDefined();
    const entries = settings!.namedChildren[1]!.namedChildren.filter((n) => n.type === 'object').map((o) =>
      objectProperties(o),
    );
    const lifecycle = new Map(entries.map((e) => [e.get('identity')?.text, stringLiteral(e.get('lifecycle'))]));
    expect(lifecycle.get('platformIdentityId')).toBe('None');
    expect(lifecycle.get('identityId')).toBe('Main');
    const registry = descendants(file.root).find(
      (n) => n.type === 'object_property' && n.namedChildren[0]?.text === 'registries',
    );
    expect(registry!.text).toMatch(/identity: platformIdentityId/);
  });
});

describe('least privilege', () => {
  it('grants no Owner, Contributor or access-administration role', () => {
    const broad = rows
      .filter((r) => r.roleId in BROAD_ROLES)
      .map((r) => `${r.where}: ${BROAD_ROLES[r.roleId]} to ${r.principal}`);
    expect(broad).toEqual([]);
  });

  it('scopes data roles to one table, container or queue, except the few account-level actions', () => {
    // Account (or namespace) scope is allowed only for: host storage (the host creates its own
    // containers), Get User Delegation Key (account-level action), and resources without child scopes.
    const accountLevel = rows.filter((r) => /^(storage account|Service Bus namespace) /.test(r.scope));
    const allowed = accountLevel.filter(
      (r) =>
        (r.roleId === DATA_OWNER.blob && r.scope.startsWith('storage account sthcjo')) ||
        (r.roleId === 'db58b8e5-c6ad-4a2a-8342-4190687cbf4a' && r.scope.startsWith('storage account stcjo')),
    );
    expect(
      accountLevel
        .filter((r) => !allowed.includes(r))
        .map((r) => `${r.where}: ${r.principal} ${ROLE_NAMES[r.roleId]} on ${r.scope}`),
    ).toEqual([]);
    expect(
      rows.some((r) => r.scope.startsWith('Service Bus namespace')),
      'no Service Bus role on the whole namespace',
    ).toBe(false);
  });

  it('lets only the Function App touch its host storage account, and nobody hold Blob Data Owner on job data', () => {
    const api = identityName(identitySymbol(moduleArg('functionApp', 'identityId'))!);
    const host = rows.filter((r) => r.scope.startsWith('storage account sthcjo'));
    expect(host.length).toBeGreaterThan(0);
    expect(host.every((r) => r.principal === api)).toBe(true);
    const owners = rows.filter((r) => r.roleId === DATA_OWNER.blob && !r.scope.startsWith('storage account sthcjo'));
    expect(owners.map((r) => r.where)).toEqual([]);
  });

  it('gives Batch pool nodes AcrPull on the registry and nothing else', () => {
    const pool = identityName(identitySymbol(moduleArg('batch', 'poolIdentityId'))!);
    const granted = rows.filter((r) => r.principal === pool);
    expect(granted.map((r) => `${ROLE_NAMES[r.roleId]} on ${r.scope.split(' ')[0]} ${r.scope.split(' ')[1]}`)).toEqual([
      'AcrPull on container registry',
    ]);
  });

  it('gives the worker code no owner role, no host storage, no idempotency table, no Key Vault and no Batch', () => {
    const worker = identityName(workerModules().map((m) => identitySymbol(m.params.get('identityId')))[0]!);
    const granted = rows.filter((r) => r.principal === worker);
    expect(granted.length).toBeGreaterThan(0);
    const bad = granted.filter(
      (r) =>
        r.roleId === DATA_OWNER.blob ||
        r.roleId === DATA_OWNER.serviceBus ||
        r.roleId === ACR_PULL ||
        /^(storage account|Key Vault|Batch account|Azure ML|table idempotency|container batch-staging)/.test(r.scope),
    );
    expect(bad.map((r) => `${r.where}: ${ROLE_NAMES[r.roleId]} on ${r.scope}`)).toEqual([]);
    // It only receives from the worker queues and only sends webhook deliveries; reading artifacts is read-only.
    const queues = granted
      .filter((r) => r.scope.startsWith('Service Bus queue'))
      .map((r) => `${ROLE_NAMES[r.roleId]} ${r.scope}`);
    expect(queues.sort()).toEqual([
      'Azure Service Bus Data Receiver Service Bus queue actor-jobs',
      'Azure Service Bus Data Receiver Service Bus queue spark-jobs',
      'Azure Service Bus Data Sender Service Bus queue webhooks',
    ]);
    expect(granted.filter((r) => r.scope === 'table webhooksubs').map((r) => ROLE_NAMES[r.roleId])).toEqual([
      'Storage Table Data Reader',
    ]);
    expect(granted.filter((r) => r.scope === 'container essedum-artifacts').map((r) => ROLE_NAMES[r.roleId])).toEqual([
      'Storage Blob Data Reader',
    ]);
  });

  it('lets the KEDA scale rule read only the queues its app consumes', () => {
    const platform = identityName(workerModules().map((m) => identitySymbol(m.params.get('platformIdentityId')))[0]!);
    const scopes = rows
      .filter((r) => r.principal === platform && r.roleId === DATA_OWNER.serviceBus)
      .map((r) => r.scope)
      .sort();
    const scaled = workerModules()
      .map(
        (m) =>
          `Service Bus queue ${stringLiteral(m.params.get('queueName')) ?? resolveQueue(m.params.get('queueName')!)}`,
      )
      .sort();
    expect(scopes).toEqual(scaled);
  });
});

/** `queueNames.actor` → 'actor-jobs' (main.bicep var queueNames). */
function resolveQueue(expr: Node): string {
  const key = expr.text.split('.')[1]!;
  const obj = main.root.namedChildren.find(
    (d) => d.type === 'variable_declaration' && d.namedChildren[0]?.text === 'queueNames',
  )!;
  const value = obj.namedChildren[obj.namedChildren.length - 1]!;
  return stringLiteral(objectProperties(value).get(key))!;
}
