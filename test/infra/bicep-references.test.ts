import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Node } from 'web-tree-sitter';
import {
  REPO_ROOT,
  bicepPaths,
  descendants,
  moduleDeclarations,
  parseBicep,
  where,
  type BicepFile,
} from './bicep-tree.js';

/**
 * What a Bicep compiler would reject and the grammar alone does not: references to undeclared
 * symbols, module parameters that do not exist or are missing, and module outputs that are not
 * declared. No compiler runs on these machines, so these checks stand in for `bicep build`.
 */

const DECLARATIONS = [
  'parameter_declaration',
  'variable_declaration',
  'resource_declaration',
  'module_declaration',
  'output_declaration',
];

/** Name and whether a default exists, per `param` of a file. */
function parameters(file: BicepFile): Map<string, { hasDefault: boolean }> {
  const out = new Map<string, { hasDefault: boolean }>();
  for (const d of file.root.namedChildren) {
    if (d.type !== 'parameter_declaration') continue;
    const kids = d.namedChildren;
    out.set(kids[0]!.text, { hasDefault: kids.length >= 3 });
  }
  return out;
}

function outputs(file: BicepFile): Set<string> {
  return new Set(
    file.root.namedChildren.filter((d) => d.type === 'output_declaration').map((d) => d.namedChildren[0]!.text),
  );
}

/** Identifiers used as references (not declaration names, property keys, function names or types). */
function references(file: BicepFile): Node[] {
  return descendants(file.root).filter((n) => {
    if (n.type !== 'identifier') return false;
    const parent = n.parent;
    if (!parent) return false;
    if (DECLARATIONS.includes(parent.type) && parent.namedChildren[0]?.id === n.id) return false;
    if (parent.type === 'object_property' && parent.namedChildren[0]?.id === n.id) return false;
    if (parent.type === 'call_expression' && parent.childForFieldName('function')?.id === n.id) return false;
    if (parent.type === 'lambda_expression' || parent.type === 'type' || parent.type === 'for_loop_parameters')
      return false;
    if (parent.type === 'for_statement' && parent.namedChildren[0]?.id === n.id) return false;
    return true;
  });
}

function declaredNames(file: BicepFile): Set<string> {
  const names = new Set<string>();
  for (const d of file.root.namedChildren) if (DECLARATIONS.includes(d.type)) names.add(d.namedChildren[0]!.text);
  for (const n of descendants(file.root)) {
    if (n.type === 'loop_variable' || n.type === 'loop_enumerator') names.add(n.text);
    if (n.type === 'for_statement' && n.namedChildren[0]?.type === 'identifier') names.add(n.namedChildren[0].text);
  }
  return names;
}

let files: BicepFile[];
const byPath = new Map<string, BicepFile>();

beforeAll(async () => {
  files = await Promise.all(bicepPaths().map((p) => parseBicep(p)));
  for (const f of files) byPath.set(join(REPO_ROOT, f.path), f);
});

describe('Bicep references (stand-in for bicep build)', () => {
  it('every identifier refers to a declared param, var, resource, module or loop variable', () => {
    const problems: string[] = [];
    for (const file of files) {
      const declared = declaredNames(file);
      for (const ref of references(file))
        if (!declared.has(ref.text)) problems.push(`${where(file, ref)}: '${ref.text}' is not declared`);
    }
    expect(problems, problems.join('\n')).toEqual([]);
  });

  it('modules get only parameters they declare, and every parameter without a default', () => {
    const problems: string[] = [];
    for (const file of files) {
      for (const mod of moduleDeclarations(file)) {
        const target = byPath.get(join(REPO_ROOT, dirname(file.path), mod.path));
        if (!target) {
          problems.push(`${where(file, mod.node)}: module file '${mod.path}' not found`);
          continue;
        }
        const declared = parameters(target);
        for (const name of mod.params.keys())
          if (!declared.has(name)) problems.push(`${where(file, mod.node)}: ${target.path} has no param '${name}'`);
        for (const [name, p] of declared)
          if (!p.hasDefault && !mod.params.has(name))
            problems.push(`${where(file, mod.node)}: required param '${name}' of ${target.path} is not passed`);
      }
    }
    expect(problems, problems.join('\n')).toEqual([]);
  });

  it('every <module>.outputs.<name> is an output of that module', () => {
    const problems: string[] = [];
    for (const file of files) {
      const modules = new Map(
        moduleDeclarations(file).map((m) => [m.symbol, byPath.get(join(REPO_ROOT, dirname(file.path), m.path))]),
      );
      for (const n of descendants(file.root)) {
        if (n.type !== 'member_expression') continue;
        const inner = n.childForFieldName('object');
        if (inner?.type !== 'member_expression' || inner.childForFieldName('property')?.text !== 'outputs') continue;
        const symbol = inner.childForFieldName('object')?.text ?? '';
        const target = modules.get(symbol);
        const name = n.childForFieldName('property')?.text ?? '';
        if (target && !outputs(target).has(name))
          problems.push(`${where(file, n)}: ${target.path} has no output '${name}'`);
      }
    }
    expect(problems, problems.join('\n')).toEqual([]);
  });
});
