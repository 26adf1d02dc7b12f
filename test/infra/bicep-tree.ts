import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Language, Parser, type Node } from 'web-tree-sitter';

/**
 * Bicep as a syntax tree, for the infra checks. No Bicep compiler can run here, so the checks read the
 * templates with the tree-sitter grammar: syntax errors, declared names, app-setting keys and role
 * assignments come from the tree, not from regular expressions over text (comments cannot satisfy a
 * check).
 */

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BICEP_ROOT = join(REPO_ROOT, 'infra/bicep');

export interface BicepFile {
  /** Path relative to the repository root, for messages. */
  readonly path: string;
  readonly source: string;
  readonly root: Node;
}

let parser: Promise<Parser> | undefined;

function bicepParser(): Promise<Parser> {
  parser ??= (async () => {
    await Parser.init();
    const require = createRequire(import.meta.url);
    const wasm = join(require.resolve('tree-sitter-bicep/package.json'), '..', 'tree-sitter-bicep.wasm');
    const p = new Parser();
    p.setLanguage(await Language.load(wasm));
    return p;
  })();
  return parser;
}

/** Every `.bicep` file under infra/bicep, sorted. */
export function bicepPaths(): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.bicep')) out.push(p);
    }
  };
  walk(BICEP_ROOT);
  return out.sort();
}

export async function parseBicep(absPath: string): Promise<BicepFile> {
  const source = readFileSync(absPath, 'utf8');
  const tree = (await bicepParser()).parse(source);
  if (!tree) throw new Error(`tree-sitter returned no tree for ${absPath}`);
  return { path: relative(REPO_ROOT, absPath), source, root: tree.rootNode };
}

/** `file:line:col` of a node (1-based), for failure messages. */
export function where(file: BicepFile, node: Node): string {
  return `${file.path}:${node.startPosition.row + 1}:${node.startPosition.column + 1}`;
}

/** ERROR and MISSING nodes, as `file:line:col: …` lines. */
export function syntaxProblems(file: BicepFile): string[] {
  const problems: string[] = [];
  const visit = (n: Node): void => {
    if (n.isMissing) problems.push(`${where(file, n)}: missing '${n.type}'`);
    else if (n.isError)
      problems.push(`${where(file, n)}: syntax error near '${n.text.slice(0, 60).replace(/\s+/g, ' ')}'`);
    for (const c of n.children) visit(c);
  };
  visit(file.root);
  return problems;
}

/** All descendants (depth first, including `node`). */
export function descendants(node: Node): Node[] {
  const out: Node[] = [node];
  for (const c of node.children) out.push(...descendants(c));
  return out;
}

/** The literal value of a `string` node without interpolations, else undefined. */
export function stringLiteral(node: Node | null | undefined): string | undefined {
  if (node?.type !== 'string') return undefined;
  if (node.namedChildren.some((c) => c.type === 'interpolation')) return undefined;
  return node.namedChildren
    .filter((c) => c.type === 'string_content')
    .map((c) => c.text)
    .join('');
}

/** Key text of an `object_property` (identifier or quoted string). */
export function propertyKey(prop: Node): string | undefined {
  const key = prop.namedChildren[0];
  if (!key) return undefined;
  if (key.type === 'identifier') return key.text;
  return stringLiteral(key);
}

/** The value node of an `object_property`. */
export function propertyValue(prop: Node): Node | undefined {
  const kids = prop.namedChildren;
  return kids.length >= 2 ? kids[kids.length - 1] : undefined;
}

/** Direct properties of an `object` node, key -> value node. */
export function objectProperties(obj: Node): Map<string, Node> {
  const out = new Map<string, Node>();
  for (const p of obj.namedChildren) {
    if (p.type !== 'object_property') continue;
    const k = propertyKey(p);
    const v = propertyValue(p);
    if (k !== undefined && v) out.set(k, v);
  }
  return out;
}

/** Value expression of top-level `var <name> = …`. */
export function variableValue(file: BicepFile, name: string): Node | undefined {
  for (const d of file.root.namedChildren) {
    if (d.type !== 'variable_declaration') continue;
    const [id, ...rest] = d.namedChildren;
    if (id?.text === name) return rest[rest.length - 1];
  }
  return undefined;
}

/** Default value node of top-level `param <name> <type> = …` (undefined when it has none). */
export function parameterDefault(file: BicepFile, name: string): Node | undefined {
  for (const d of file.root.namedChildren) {
    if (d.type !== 'parameter_declaration') continue;
    const kids = d.namedChildren.filter((c) => c.type !== 'decorators' && c.type !== 'decorator');
    if (kids[0]?.text !== name) continue;
    const last = kids[kids.length - 1];
    return last && last.type !== 'type' && kids.length >= 3 ? last : undefined;
  }
  return undefined;
}

/** Top-level `module <symbol> '<path>' = …` declarations, with their `params` object. */
export function moduleDeclarations(
  file: BicepFile,
): Array<{ symbol: string; path: string; params: Map<string, Node>; node: Node }> {
  const out: Array<{ symbol: string; path: string; params: Map<string, Node>; node: Node }> = [];
  for (const d of file.root.namedChildren) {
    if (d.type !== 'module_declaration') continue;
    const symbol = d.namedChildren[0]?.text ?? '';
    const path = stringLiteral(d.namedChildren[1]) ?? '';
    const body = descendants(d).find((n) => n.type === 'object');
    const paramsNode = body ? objectProperties(body).get('params') : undefined;
    out.push({
      symbol,
      path,
      params: paramsNode?.type === 'object' ? objectProperties(paramsNode) : new Map(),
      node: d,
    });
  }
  return out;
}

/**
 * Keys of the app-settings object an expression builds: object literals, `union(...)` of them,
 * both branches of `cond ? {...} : {...}`, and variables defined in the same file. Values are the
 * expressions that set each key (the last one wins, as in `union`).
 */
export function settingKeys(file: BicepFile, expr: Node, seen = new Set<string>()): Map<string, Node> {
  const out = new Map<string, Node>();
  const merge = (m: Map<string, Node>): void => {
    for (const [k, v] of m) out.set(k, v);
  };
  switch (expr.type) {
    case 'object':
      merge(objectProperties(expr));
      break;
    case 'parenthesized_expression':
      for (const c of expr.namedChildren) merge(settingKeys(file, c, seen));
      break;
    case 'ternary_expression': {
      const a = expr.childForFieldName('consequence');
      const b = expr.childForFieldName('alternative');
      if (a) merge(settingKeys(file, a, seen));
      if (b) merge(settingKeys(file, b, seen));
      break;
    }
    case 'call_expression': {
      const fn = expr.childForFieldName('function')?.text;
      const args = expr.childForFieldName('arguments');
      if (fn === 'union' && args) for (const a of args.namedChildren) merge(settingKeys(file, a, seen));
      break;
    }
    case 'identifier': {
      if (seen.has(expr.text)) break;
      seen.add(expr.text);
      const v = variableValue(file, expr.text);
      if (v) merge(settingKeys(file, v, seen));
      break;
    }
    default:
      break;
  }
  return out;
}

/** Resource declarations of one type (prefix before '@'), e.g. 'Microsoft.Authorization/roleAssignments'. */
export function resourcesOfType(file: BicepFile, type: string): Node[] {
  return descendants(file.root).filter((n) => {
    if (n.type !== 'resource_declaration') return false;
    const t = stringLiteral(n.namedChildren[1]);
    return t?.split('@')[0] === type;
  });
}

/** GUID string literals inside a node (comments are separate nodes and never count). */
export function guidLiterals(node: Node): string[] {
  return descendants(node)
    .filter((n) => n.type === 'string')
    .map((n) => stringLiteral(n))
    .filter(
      (s): s is string => s !== undefined && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s),
    )
    .map((s) => s.toLowerCase());
}
