/**
 * A small evaluator of the OData `$filter` subset the Batch service documents for "List tasks":
 * `eq ne gt ge lt le`, `and`, `or`, parentheses, string literals `'…'`, `datetime'…'` and numbers,
 * over a fixed set of filterable properties (anything else is a 400, as on the service).
 */

export type Row = Record<string, unknown>;
export type Predicate = (row: Row) => boolean;

/** Properties the service lets a task list filter on (state, times, execution info). */
export const TASK_FILTER_PROPERTIES = new Set([
  'state',
  'previousState',
  'stateTransitionTime',
  'creationTime',
  'lastModified',
  'executionInfo/startTime',
  'executionInfo/endTime',
  'executionInfo/exitCode',
  'executionInfo/retryCount',
  'executionInfo/requeueCount',
  'executionInfo/result',
]);

export class FilterSyntaxError extends Error {}

type Token = { kind: 'ident' | 'string' | 'datetime' | 'number' | 'lparen' | 'rparen'; value: string };

function tokenize(input: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < input.length) {
    const c = input[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '(' || c === ')') {
      tokens.push({ kind: c === '(' ? 'lparen' : 'rparen', value: c });
      i++;
    } else if (c === "'") {
      let j = i + 1;
      let value = '';
      for (;;) {
        if (j >= input.length) throw new FilterSyntaxError('unterminated string literal');
        if (input[j] === "'" && input[j + 1] === "'") {
          value += "'";
          j += 2;
        } else if (input[j] === "'") {
          break;
        } else {
          value += input[j];
          j++;
        }
      }
      tokens.push({ kind: 'string', value });
      i = j + 1;
    } else if (/[0-9-]/.test(c)) {
      const m = /^-?\d+(\.\d+)?/.exec(input.slice(i));
      if (!m) throw new FilterSyntaxError(`unexpected '${c}'`);
      tokens.push({ kind: 'number', value: m[0] });
      i += m[0].length;
    } else {
      const m = /^[A-Za-z_][A-Za-z0-9_/]*/.exec(input.slice(i));
      if (!m) throw new FilterSyntaxError(`unexpected '${c}'`);
      i += m[0].length;
      if (m[0] === 'datetime' && input[i] === "'") {
        const end = input.indexOf("'", i + 1);
        if (end < 0) throw new FilterSyntaxError('unterminated datetime literal');
        tokens.push({ kind: 'datetime', value: input.slice(i + 1, end) });
        i = end + 1;
      } else {
        tokens.push({ kind: 'ident', value: m[0] });
      }
    }
  }
  return tokens;
}

const COMPARATORS = new Set(['eq', 'ne', 'gt', 'ge', 'lt', 'le']);

function read(row: Row, path: string): unknown {
  let v: unknown = row;
  for (const part of path.split('/')) v = v && typeof v === 'object' ? (v as Row)[part] : undefined;
  return v;
}

function compare(op: string, left: unknown, right: unknown): boolean {
  if (left === undefined || left === null) return op === 'ne';
  let a: number | string;
  let b: number | string;
  if (right instanceof Date) {
    a = Date.parse(String(left));
    b = right.getTime();
  } else if (typeof right === 'number') {
    a = Number(left);
    b = right;
  } else {
    // String comparisons are case-insensitive for enum-like values (`Completed` = `completed`).
    a = String(left).toLowerCase();
    b = String(right).toLowerCase();
  }
  switch (op) {
    case 'eq':
      return a === b;
    case 'ne':
      return a !== b;
    case 'gt':
      return a > b;
    case 'ge':
      return a >= b;
    case 'lt':
      return a < b;
    case 'le':
      return a <= b;
    default:
      throw new FilterSyntaxError(`unknown operator ${op}`);
  }
}

/** Compiles a `$filter` into a predicate; throws {@link FilterSyntaxError} on what the service would refuse. */
export function compileFilter(input: string, allowed: ReadonlySet<string>): Predicate {
  const tokens = tokenize(input);
  let pos = 0;
  const peek = (): Token | undefined => tokens[pos];
  const next = (): Token => {
    const t = tokens[pos++];
    if (!t) throw new FilterSyntaxError('unexpected end of filter');
    return t;
  };

  const primary = (): Predicate => {
    const t = next();
    if (t.kind === 'lparen') {
      const inner = or();
      if (next().kind !== 'rparen') throw new FilterSyntaxError('missing )');
      return inner;
    }
    if (t.kind !== 'ident') throw new FilterSyntaxError(`expected a property, got '${t.value}'`);
    if (!allowed.has(t.value)) throw new FilterSyntaxError(`the property '${t.value}' cannot be filtered on`);
    const op = next();
    if (op.kind !== 'ident' || !COMPARATORS.has(op.value))
      throw new FilterSyntaxError(`expected a comparison after ${t.value}`);
    const lit = next();
    let value: unknown;
    if (lit.kind === 'string') value = lit.value;
    else if (lit.kind === 'number') value = Number(lit.value);
    else if (lit.kind === 'datetime') {
      const d = new Date(lit.value);
      if (Number.isNaN(d.getTime())) throw new FilterSyntaxError(`bad datetime '${lit.value}'`);
      value = d;
    } else throw new FilterSyntaxError(`expected a literal, got '${lit.value}'`);
    const path = t.value;
    return (row) => compare(op.value, read(row, path), value);
  };
  const and = (): Predicate => {
    let left = primary();
    while (peek()?.kind === 'ident' && peek()!.value === 'and') {
      next();
      const l = left;
      const r = primary();
      left = (row) => l(row) && r(row);
    }
    return left;
  };
  const or = (): Predicate => {
    let left = and();
    while (peek()?.kind === 'ident' && peek()!.value === 'or') {
      next();
      const l = left;
      const r = and();
      left = (row) => l(row) || r(row);
    }
    return left;
  };
  const predicate = or();
  if (pos !== tokens.length) throw new FilterSyntaxError(`unexpected '${tokens[pos]!.value}'`);
  return predicate;
}
