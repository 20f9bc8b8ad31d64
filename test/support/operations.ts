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
}

/** Every example operation, in file order. */
export function loadExamples(): Example[] {
  const examples: Example[] = [];
  for (const file of fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.graphql'))
    .sort()) {
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
      examples.push({ file, name: def.name.value, text, node: def, rootFields });
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
