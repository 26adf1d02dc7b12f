import type { Node } from 'web-tree-sitter';
import {
  descendants,
  guidLiterals,
  moduleDeclarations,
  objectProperties,
  stringLiteral,
  variableValue,
  where,
  type BicepFile,
} from './bicep-tree.js';

/**
 * Role assignments of the Bicep templates as (identity, role, scope) rows, resolved through the module
 * calls of main.bicep, and the same rows read from the table in docs/deploy.md. The infra tests compare
 * the two in both directions, so a role added in Bicep without its documented reason (or documented but
 * not granted) fails `npm test`.
 *
 * Resolution is static: a module parameter is replaced by the argument main.bicep passes; a variable by
 * its value; `<module>.outputs.<x>` by the module's output expression; a resource's `.name` by its name.
 * Interpolated names keep their literal prefix (`'stcjo${token}'` → `stcjo…`). main.bicep parameters are
 * deployment inputs and stay symbolic (`{azureMlWorkspaceName}`).
 */

export interface RoleRow {
  /** Identity name prefix (`id-cjo-api-…`) or a deployment input (`{principalId}`). */
  readonly principal: string;
  /** Role definition GUID, lower case. */
  readonly roleId: string;
  /** `<kind> <name>`, e.g. `table jobs`, `Service Bus queue actor-jobs`, `storage account stcjo…`. */
  readonly scope: string;
  /** Granted only under a condition (`if (...)` on the assignment or its module). */
  readonly conditional: boolean;
  /** file:line of the assignment. */
  readonly where: string;
}

/** Kind label per scope resource type, as written in docs/deploy.md. */
export const SCOPE_KINDS: Readonly<Record<string, string>> = {
  'Microsoft.Storage/storageAccounts': 'storage account',
  'Microsoft.Storage/storageAccounts/tableServices/tables': 'table',
  'Microsoft.Storage/storageAccounts/blobServices/containers': 'container',
  'Microsoft.Storage/storageAccounts/queueServices/queues': 'storage queue',
  'Microsoft.ServiceBus/namespaces': 'Service Bus namespace',
  'Microsoft.ServiceBus/namespaces/queues': 'Service Bus queue',
  'Microsoft.Batch/batchAccounts': 'Batch account',
  'Microsoft.ContainerRegistry/registries': 'container registry',
  'Microsoft.KeyVault/vaults': 'Key Vault',
  'Microsoft.KeyVault/vaults/secrets': 'Key Vault secret',
  'Microsoft.Insights/components': 'Application Insights',
  'Microsoft.MachineLearningServices/workspaces': 'Azure ML workspace',
};

interface Ctx {
  readonly file: BicepFile;
  /** Arguments of the module call that instantiates `file` (undefined for main.bicep). */
  readonly args?: Map<string, Node>;
  /** Context of the caller (main.bicep), where `args` are evaluated. */
  readonly caller?: Ctx;
  readonly files: ReadonlyMap<string, BicepFile>;
}

const DECLS = [
  'parameter_declaration',
  'variable_declaration',
  'resource_declaration',
  'module_declaration',
  'output_declaration',
] as const;

function declaration(file: BicepFile, type: (typeof DECLS)[number], name: string): Node | undefined {
  return file.root.namedChildren.find((d) => d.type === type && d.namedChildren[0]?.text === name);
}

function resourceBody(decl: Node): { body: Node | undefined; loop: Node | undefined; condition: Node | undefined } {
  const loop = decl.namedChildren.find((c) => c.type === 'for_statement');
  const cond = decl.namedChildren.find((c) => c.type === 'if_statement');
  const holder = loop ?? cond ?? decl;
  return { body: holder.namedChildren.find((c) => c.type === 'object'), loop, condition: cond };
}

function moduleFile(ctx: Ctx, symbol: string): { file: BicepFile; args: Map<string, Node> } | undefined {
  const mod = moduleDeclarations(ctx.file).find((m) => m.symbol === symbol);
  if (!mod) return undefined;
  const base = ctx.file.path.slice(0, ctx.file.path.lastIndexOf('/') + 1);
  const file = ctx.files.get(normalise(base + mod.path));
  return file ? { file, args: mod.params } : undefined;
}

function normalise(path: string): string {
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '..') out.pop();
    else if (part !== '.' && part !== '') out.push(part);
  }
  return out.join('/');
}

/** Every value an expression can take (several for arrays), as display strings. */
export function resolveValues(node: Node, ctx: Ctx, loop: ReadonlyMap<string, string> = new Map()): string[] {
  switch (node.type) {
    case 'string': {
      const literal = stringLiteral(node);
      if (literal !== undefined) return [literal];
      const prefix: string[] = [];
      for (const c of node.namedChildren) {
        if (c.type !== 'string_content') break;
        prefix.push(c.text);
      }
      return [`${prefix.join('')}…`];
    }
    case 'array':
      return node.namedChildren.flatMap((c) => resolveValues(c, ctx, loop));
    case 'identifier': {
      const name = node.text;
      const bound = loop.get(name);
      if (bound !== undefined) return [bound];
      const param = declaration(ctx.file, 'parameter_declaration', name);
      if (param) {
        if (!ctx.args) return [`{${name}}`]; // a deployment input of main.bicep
        const arg = ctx.args.get(name);
        if (arg && ctx.caller) return resolveValues(arg, ctx.caller);
        const kids = param.namedChildren.filter((c) => c.type !== 'decorators' && c.type !== 'decorator');
        const dflt = kids.length >= 3 ? kids[kids.length - 1] : undefined;
        return dflt ? resolveValues(dflt, ctx) : [`{${name}}`];
      }
      const value = variableValue(ctx.file, name);
      if (value) return resolveValues(value, ctx, loop);
      return [`{${name}}`];
    }
    case 'member_expression': {
      const object = node.childForFieldName('object');
      const property = node.childForFieldName('property')?.text ?? '';
      if (!object) return [`{${node.text}}`];
      // <var>.<key> of an object variable
      if (object.type === 'identifier') {
        const value = variableValue(ctx.file, object.text);
        if (value?.type === 'object') {
          const v = objectProperties(value).get(property);
          if (v) return resolveValues(v, ctx, loop);
        }
        // <resource>.name
        const res = declaration(ctx.file, 'resource_declaration', object.text);
        if (res && property === 'name') {
          const n = resourceBody(res).body ? objectProperties(resourceBody(res).body!).get('name') : undefined;
          if (n) return resolveValues(n, ctx, loop);
        }
      }
      // <module>.outputs.<name>
      if (object.type === 'member_expression' && object.childForFieldName('property')?.text === 'outputs') {
        const symbol = object.childForFieldName('object')?.text ?? '';
        const target = moduleFile(ctx, symbol);
        const out = target && declaration(target.file, 'output_declaration', property);
        const value = out?.namedChildren[out.namedChildren.length - 1];
        if (target && value)
          return resolveValues(value, { file: target.file, args: target.args, caller: ctx, files: ctx.files });
      }
      return [`{${node.text}}`];
    }
    default:
      return [`{${node.text}}`];
  }
}

/** The identity a principal id expression names: `id-cjo-api-…`, or `{param}` for a deployment input. */
export function resolvePrincipal(node: Node, ctx: Ctx): string {
  if (node.type === 'identifier' && ctx.args && declaration(ctx.file, 'parameter_declaration', node.text)) {
    const arg = ctx.args.get(node.text);
    if (!arg || !ctx.caller) return `{${node.text}}`;
    return resolvePrincipal(arg, ctx.caller);
  }
  if (node.type === 'identifier' && !ctx.args && declaration(ctx.file, 'parameter_declaration', node.text))
    return `{${node.text}}`;
  // <identityModule>.outputs.principalId → the identity's name
  const object = node.type === 'member_expression' ? node.childForFieldName('object') : null;
  if (object?.type === 'member_expression' && object.childForFieldName('property')?.text === 'outputs') {
    const symbol = object.childForFieldName('object')?.text ?? '';
    const mod = moduleDeclarations(ctx.file).find((m) => m.symbol === symbol);
    if (mod?.path.endsWith('identity.bicep')) {
      const name = mod.params.get('name');
      if (name) return resolveValues(name, ctx).join(',');
    }
  }
  return `{${node.text}}`;
}

/** Rows of every role assignment reachable from main.bicep (its own and those of the modules it calls). */
export function roleRows(main: BicepFile, files: readonly BicepFile[]): { rows: RoleRow[]; problems: string[] } {
  const byPath = new Map(files.map((f) => [f.path, f]));
  const rows: RoleRow[] = [];
  const problems: string[] = [];
  const mainCtx: Ctx = { file: main, files: byPath };
  const contexts: Array<{ ctx: Ctx; conditional: boolean }> = [{ ctx: mainCtx, conditional: false }];
  const reached = new Set<string>([main.path]);
  for (const mod of moduleDeclarations(main)) {
    const target = moduleFile(mainCtx, mod.symbol);
    if (!target) continue;
    reached.add(target.file.path);
    contexts.push({
      ctx: { file: target.file, args: target.args, caller: mainCtx, files: byPath },
      conditional: mod.node.namedChildren.some((c) => c.type === 'if_statement'),
    });
  }
  for (const f of files) {
    if (!reached.has(f.path) && assignmentsIn(f).length > 0)
      problems.push(`${f.path}: role assignments in a module main.bicep does not call`);
  }
  for (const { ctx, conditional } of contexts) {
    for (const decl of assignmentsIn(ctx.file)) {
      const at = where(ctx.file, decl);
      const { body, loop, condition } = resourceBody(decl);
      const props = body ? objectProperties(body) : new Map<string, Node>();
      const inner = props.get('properties');
      const innerProps = inner?.type === 'object' ? objectProperties(inner) : new Map<string, Node>();
      const roleExpr = innerProps.get('roleDefinitionId');
      const roleIds = roleExpr ? guidLiterals(roleExpr) : [];
      const principalExpr = innerProps.get('principalId');
      const scopeExpr = props.get('scope');
      if (roleIds.length !== 1) problems.push(`${at}: roleDefinitionId must name exactly one role GUID literal`);
      if (!principalExpr) problems.push(`${at}: no properties.principalId`);
      if (!scopeExpr) problems.push(`${at}: no scope (an assignment without one lands on the whole resource group)`);
      if (roleIds.length !== 1 || !principalExpr || !scopeExpr) continue;
      const principal = resolvePrincipal(principalExpr, ctx);
      for (const scope of resolveScope(scopeExpr, loop, ctx, at, problems)) {
        rows.push({
          principal,
          roleId: roleIds[0]!,
          scope,
          conditional: conditional || condition !== undefined,
          where: at,
        });
      }
    }
  }
  return { rows, problems };
}

function assignmentsIn(file: BicepFile): Node[] {
  return descendants(file.root).filter(
    (n) =>
      n.type === 'resource_declaration' &&
      stringLiteral(n.namedChildren[1])?.split('@')[0] === 'Microsoft.Authorization/roleAssignments',
  );
}

function resolveScope(
  scopeExpr: Node,
  assignmentLoop: Node | undefined,
  ctx: Ctx,
  at: string,
  problems: string[],
): string[] {
  const indexed = scopeExpr.type === 'subscript_expression';
  const symbol = indexed
    ? scopeExpr.namedChildren[0]?.text
    : scopeExpr.type === 'identifier'
      ? scopeExpr.text
      : undefined;
  const decl = symbol ? declaration(ctx.file, 'resource_declaration', symbol) : undefined;
  if (!decl) {
    problems.push(`${at}: scope '${scopeExpr.text}' is not a resource declared in ${ctx.file.path}`);
    return [];
  }
  const type = stringLiteral(decl.namedChildren[1])?.split('@')[0] ?? '';
  const kind = SCOPE_KINDS[type] ?? type;
  const { body, loop } = resourceBody(decl);
  const nameExpr = body ? objectProperties(body).get('name') : undefined;
  if (!nameExpr) {
    problems.push(`${at}: scope resource '${symbol}' has no name`);
    return [];
  }
  if (!loop) {
    if (indexed) problems.push(`${at}: '${scopeExpr.text}' indexes a resource that is not a loop`);
    return resolveValues(nameExpr, ctx).map((n) => `${kind} ${n}`);
  }
  if (!indexed) {
    problems.push(`${at}: scope '${symbol}' is a resource loop; index it with the assignment's loop index`);
    return [];
  }
  // The assignment must loop over the same collection as its scope, index for index.
  const loopArray = (l: Node) =>
    l.namedChildren.find(
      (c, i) => i > 0 && c.type !== 'object' && c.type !== 'for_loop_parameters' && c.type !== 'if_statement',
    );
  const scopeArray = loopArray(loop);
  if (!assignmentLoop || loopArray(assignmentLoop)?.text !== scopeArray?.text) {
    problems.push(
      `${at}: loops over '${assignmentLoop ? loopArray(assignmentLoop)?.text : '(nothing)'}' but its scope '${symbol}' over '${scopeArray?.text}'`,
    );
    return [];
  }
  const variable =
    loop.namedChildren[0]?.type === 'identifier'
      ? loop.namedChildren[0].text
      : loop.namedChildren[0]?.namedChildren[0]?.text;
  const items = scopeArray ? resolveValues(scopeArray, ctx) : [];
  return items.flatMap((item) =>
    resolveValues(nameExpr, ctx, new Map([[variable ?? '', item]])).map((n) => `${kind} ${n}`),
  );
}

// ---- The table in docs/deploy.md -------------------------------------------------------------------

export interface DocRow {
  readonly principal: string;
  readonly roleName: string;
  readonly roleId: string;
  readonly scope: string;
  readonly why: string;
  readonly line: number;
}

/**
 * Rows of the first markdown table after the heading `heading`: columns Identity | Role | Role id |
 * Scope | Why. Backticks are dropped; the identity is the first code span of its cell.
 */
export function docRows(markdown: string, heading: string): DocRow[] {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => l.trim() === heading);
  if (start < 0) return [];
  const out: DocRow[] = [];
  let inTable = false;
  for (let i = start + 1; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (/^#{1,6} /.test(line)) break;
    if (!line.startsWith('|')) {
      if (inTable) break;
      continue;
    }
    inTable = true;
    const cells = line
      .slice(1, line.endsWith('|') ? -1 : undefined)
      .split('|')
      .map((c) => c.trim());
    if (cells[0] === 'Identity' || /^-+$/.test(cells[0]!.replace(/:/g, ''))) continue;
    const code = (s: string) => /`([^`]+)`/.exec(s)?.[1] ?? s;
    const plain = (s: string) => s.replace(/`/g, '').replace(/\s+/g, ' ').trim();
    out.push({
      principal: code(cells[0] ?? ''),
      roleName: plain(cells[1] ?? ''),
      roleId: plain(cells[2] ?? '').toLowerCase(),
      scope: plain(cells[3] ?? ''),
      why: plain(cells[4] ?? ''),
      line: i + 1,
    });
  }
  return out;
}

/** Key of a row for set comparison. */
export function rowKey(r: { principal: string; roleId: string; scope: string }): string {
  return `${r.principal} | ${r.roleId} | ${r.scope}`;
}

/** Differences between Bicep rows and documented rows, as messages (empty when they agree). */
export function compareRows(bicep: readonly RoleRow[], doc: readonly DocRow[]): string[] {
  const docKeys = new Map(doc.map((r) => [rowKey(r), r]));
  const bicepKeys = new Map(bicep.map((r) => [rowKey(r), r]));
  const problems: string[] = [];
  for (const [k, r] of bicepKeys)
    if (!docKeys.has(k)) problems.push(`granted in Bicep (${r.where}) but not in docs/deploy.md: ${k}`);
  for (const [k, r] of docKeys)
    if (!bicepKeys.has(k)) problems.push(`documented (docs/deploy.md:${r.line}) but not granted in Bicep: ${k}`);
  const seen = new Set<string>();
  for (const r of doc) {
    if (seen.has(rowKey(r))) problems.push(`docs/deploy.md:${r.line}: duplicate row ${rowKey(r)}`);
    seen.add(rowKey(r));
  }
  return problems;
}
