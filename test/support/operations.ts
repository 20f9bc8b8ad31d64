import fs from 'node:fs';
import path from 'node:path';
import {
  Kind,
  parse,
  print,
  visit,
  type ASTNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type OperationDefinitionNode,
} from 'graphql';
import { projectRoot } from '../../src/common/paths';
import type { TestHub } from '../harness';

const dir = path.join(projectRoot, 'graphql', 'operations');

/** One named operation of `graphql/operations/*.graphql`, with the fragments it spreads. */
export interface Example {
  file: string;
  name: string;
  /** Runnable on its own: the operation and every fragment it needs. */
  text: string;
  node: OperationDefinitionNode;
  /** `query.me`, `mutation.deploy`, …: the root fields it selects. */
  rootFields: string[];
  /** Its entry in `NAME.variables.json` beside the file, placeholders and all; undefined when it has none. */
  variables?: Record<string, unknown>;
}

/** A string variable of this form stands for a value known only at run time: `"<modelVersionId>"`. */
const PLACEHOLDER = /^<([A-Za-z][A-Za-z0-9]*)>$/;

/** `NAME.variables.json` beside `NAME.graphql`: operation name → variables. */
export function variablesFileOf(file: string): string {
  return file.replace(/\.graphql$/, '.variables.json');
}

function readVariables(file: string): Record<string, Record<string, unknown>> {
  const jsonPath = path.join(dir, variablesFileOf(file));
  if (!fs.existsSync(jsonPath)) return {};
  const parsed = JSON.parse(fs.readFileSync(jsonPath, 'utf8')) as unknown;
  const isObject = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObject(parsed) || !Object.values(parsed).every(isObject)) {
    throw new Error(`${variablesFileOf(file)}: must map each operation name to an object of variables`);
  }
  return parsed as Record<string, Record<string, unknown>>;
}

/**
 * What is wrong with the variables files: an operation without an entry in the file beside its own, an
 * entry for no operation of that file, a variables file without its `.graphql`. Empty when they agree.
 */
export function variablesProblems(examples: Example[] = loadExamples()): string[] {
  const problems: string[] = [];
  const files = fs.readdirSync(dir);
  for (const json of files.filter((f) => f.endsWith('.variables.json'))) {
    const graphql = json.replace(/\.variables\.json$/, '.graphql');
    if (!files.includes(graphql)) problems.push(`${json}: no ${graphql} beside it`);
  }
  for (const file of [...new Set(examples.map((e) => e.file))]) {
    const names = new Set(examples.filter((e) => e.file === file).map((e) => e.name));
    for (const name of names) {
      if (!(name in readVariables(file))) problems.push(`${variablesFileOf(file)}: no entry for ${name}`);
    }
    for (const name of Object.keys(readVariables(file))) {
      if (!names.has(name)) problems.push(`${variablesFileOf(file)}: ${name} is no operation of ${file}`);
    }
  }
  return problems;
}

/**
 * The variables with every placeholder string replaced by its value in `values` (of any JSON type: a
 * placeholder may stand for a number), and every other string passed through `rename`. An unknown
 * placeholder throws: a shipped example must not depend on a value nobody supplies.
 */
export function fillPlaceholders<T>(
  variables: T,
  values: Record<string, unknown>,
  rename: (value: string) => string = (value) => value,
): T {
  const fill = (value: unknown, at: string): unknown => {
    if (typeof value === 'string') {
      const placeholder = PLACEHOLDER.exec(value)?.[1];
      if (placeholder === undefined) return rename(value);
      if (!(placeholder in values)) throw new Error(`${at}: no value for the placeholder ${value}`);
      return values[placeholder];
    }
    if (Array.isArray(value)) return value.map((v, i) => fill(v, `${at}.${i}`));
    if (typeof value === 'object' && value !== null) {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fill(v, `${at}.${k}`)]));
    }
    return value;
  };
  return fill(variables, 'variables') as T;
}

/** Every example operation, in file order. */
export function loadExamples(): Example[] {
  const examples: Example[] = [];
  for (const file of fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.graphql'))
    .sort()) {
    const variables = readVariables(file);
    const document = parse(fs.readFileSync(path.join(dir, file), 'utf8'));
    const fragments = new Map<string, FragmentDefinitionNode>();
    for (const def of document.definitions) {
      if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
    }
    const used = (node: ASTNode, into = new Set<string>()): Set<string> => {
      visit(node, {
        FragmentSpread(spread) {
          const name = spread.name.value;
          if (into.has(name) || !fragments.has(name)) return;
          into.add(name);
          used(fragments.get(name)!, into);
        },
      });
      return into;
    };
    for (const def of document.definitions) {
      if (def.kind === Kind.FRAGMENT_DEFINITION) continue;
      if (def.kind !== Kind.OPERATION_DEFINITION || !def.name) {
        throw new Error(`${file}: every operation must be named`);
      }
      const text = [def, ...[...used(def)].map((n) => fragments.get(n)!)].map((d) => print(d)).join('\n\n');
      const rootFields = def.selectionSet.selections
        .filter((s): s is FieldNode => s.kind === Kind.FIELD)
        .map((s) => `${def.operation}.${s.name.value}`);
      const name = def.name.value;
      examples.push({ file, name, text, node: def, rootFields, variables: variables[name] });
    }
  }
  return examples;
}

/** Runs examples by name against a hub; any error fails. */
export class ExampleRunner {
  readonly byName: Map<string, Example>;

  constructor(
    private readonly hub: TestHub,
    examples: Example[] = loadExamples(),
  ) {
    this.byName = new Map(examples.map((e) => [e.name, e]));
  }

  text(name: string): string {
    const example = this.byName.get(name);
    if (!example) throw new Error(`no example operation named ${name}`);
    return example.text;
  }

  async run<T = Record<string, unknown>>(
    name: string,
    variables: Record<string, unknown> = {},
    key?: string,
  ): Promise<T> {
    const res = await this.hub.gql<T>(this.text(name), variables, key);
    if (res.errors?.length) {
      throw new Error(
        `${name} failed: ${JSON.stringify(res.errors.map((e) => [e.extensions?.code, e.message]))}`,
      );
    }
    return res.data as T;
  }
}
