import fs from 'node:fs';
import path from 'node:path';
import { Kind, parse, print, validate, type OperationDefinitionNode, type FieldNode } from 'graphql';
import { projectRoot } from '../../src/common/paths';
import { buildNerveSchema } from '../../src/server/schema';
import { startTestHub, unique, type TestHub } from '../harness';

const dir = path.join(projectRoot, 'graphql', 'operations');

interface Example {
  file: string;
  name: string;
  text: string;
  node: OperationDefinitionNode;
}

function loadExamples(): Example[] {
  const examples: Example[] = [];
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.graphql')).sort()) {
    const document = parse(fs.readFileSync(path.join(dir, file), 'utf8'));
    for (const def of document.definitions) {
      if (def.kind !== Kind.OPERATION_DEFINITION || !def.name) throw new Error(`${file}: every operation must be named`);
      examples.push({ file, name: def.name.value, text: print(def), node: def });
    }
  }
  return examples;
}

describe('graphql/operations', () => {
  const examples = loadExamples();
  const byName = new Map(examples.map((e) => [e.name, e]));
  let hub: TestHub;
  const executed = new Set<string>();

  beforeAll(async () => {
    hub = await startTestHub();
  });
  afterAll(() => hub.close());

  it('are valid against the schema, uniquely named, and cover every root field', async () => {
    const schema = await buildNerveSchema();
    expect(byName.size).toBe(examples.length);
    const covered = new Set<string>();
    for (const example of examples) {
      const errors = validate(schema, parse(example.text));
      expect({ operation: example.name, errors: errors.map((e) => e.message) }).toEqual({ operation: example.name, errors: [] });
      for (const selection of example.node.selectionSet.selections) {
        covered.add(`${example.node.operation}.${(selection as FieldNode).name.value}`);
      }
    }
    const roots = [
      ['query', schema.getQueryType()],
      ['mutation', schema.getMutationType()],
      ['subscription', schema.getSubscriptionType()],
    ] as const;
    const missing = roots.flatMap(([kind, type]) =>
      Object.keys(type?.getFields() ?? {})
        .map((f) => `${kind}.${f}`)
        .filter((f) => !covered.has(f)),
    );
    expect(missing).toEqual([]);
  });

  /** Runs one example by name and returns its data; any error fails the test. */
  async function run<T = Record<string, unknown>>(name: string, variables: Record<string, unknown> = {}): Promise<T> {
    const example = byName.get(name);
    if (!example) throw new Error(`no example operation named ${name}`);
    const res = await hub.gql<T>(example.text, variables);
    expect({ operation: name, errors: res.errors }).toEqual({ operation: name, errors: undefined });
    executed.add(name);
    return res.data as T;
  }

  it('all run against a live hub', async () => {
    const slug = unique('ops');
    const project = (await run<{ createProject: { id: string } }>('CreateProject', { input: { slug, name: 'Operations' } })).createProject;
    await run('Projects', { first: 5 });
    await run('Project', { slug });
    await run('Me');
    const key = (await run<{ createApiKey: { key: { id: string } } }>('CreateApiKey', {
      input: { name: unique('key'), role: 'VIEWER', projectIds: [project.id] },
    })).createApiKey.key;
    await run('RevokeApiKey', { id: key.id });

    const notRun = examples.map((e) => e.name).filter((n) => !executed.has(n));
    expect(notRun).toEqual([]);
  });
});
