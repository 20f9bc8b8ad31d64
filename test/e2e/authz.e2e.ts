import {
  getNamedType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isObjectType,
  isInterfaceType,
  isUnionType,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLObjectType,
} from 'graphql';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { Role } from '../../src/modules/api-keys/api-key.entity';
import { buildNerveSchema } from '../../src/server/schema';
import { startTestHub, unique, type TestHub } from '../harness';

const NIL_ID = '00000000-0000-4000-8000-000000000000';

/** A value of `type` that passes variable coercion, so the request reaches authorization. */
function sample(type: GraphQLInputType): unknown {
  if (isNonNullType(type)) return sample(type.ofType);
  if (isListType(type)) return [sample(type.ofType)];
  if (isEnumType(type)) return type.getValues()[0].name;
  if (isInputObjectType(type)) {
    const out: Record<string, unknown> = {};
    for (const field of Object.values(type.getFields())) {
      if (isNonNullType(field.type)) out[field.name] = sample(field.type);
    }
    return out;
  }
  switch (type.name) {
    case 'ID':
      return NIL_ID;
    case 'Int':
    case 'Float':
    case 'SafeInt':
      return 1;
    case 'Boolean':
      return true;
    case 'DateTime':
    case 'DateTimeISO':
      return '2026-01-01T00:00:00.000Z';
    case 'JSON':
    case 'JSONObject':
      return {};
    default:
      return 'x';
  }
}

/** `fieldName(arg: $arg ...) { __typename }` with variables for its required arguments. */
function operationFor(kind: 'query' | 'mutation' | 'subscription', field: GraphQLField<unknown, unknown>) {
  const required = field.args.filter((a: GraphQLArgument) => isNonNullType(a.type));
  const defs = required.map((a) => `$${a.name}: ${a.type.toString()}`).join(', ');
  const args = required.map((a) => `${a.name}: $${a.name}`).join(', ');
  const named = getNamedType(field.type);
  const selection =
    isObjectType(named) || isInterfaceType(named) || isUnionType(named) ? ' { __typename }' : '';
  return {
    query: `${kind}${defs ? `(${defs})` : ''} { ${field.name}${args ? `(${args})` : ''}${selection} }`,
    variables: Object.fromEntries(required.map((a) => [a.name, sample(a.type)])),
  };
}

describe('authorization', () => {
  let hub: TestHub;
  beforeAll(async () => {
    hub = await startTestHub();
  });
  afterAll(() => hub.close());

  it('rejects an anonymous caller on every root field of the schema, over HTTP and WebSocket', async () => {
    const schema = await buildNerveSchema();
    const roots: Array<['query' | 'mutation' | 'subscription', GraphQLObjectType | null | undefined]> = [
      ['query', schema.getQueryType()],
      ['mutation', schema.getMutationType()],
      ['subscription', schema.getSubscriptionType()],
    ];
    const client = createClient({
      url: hub.url.replace('http', 'ws'),
      webSocketImpl: WebSocket,
      lazy: true,
      retryAttempts: 0,
    });
    let checked = 0;
    try {
      for (const [kind, type] of roots) {
        for (const field of Object.values(type?.getFields() ?? {})) {
          const op = operationFor(kind, field);
          if (kind !== 'subscription') {
            const res = await hub.gql(op.query, op.variables, null);
            expect({ field: field.name, code: res.errors?.[0]?.extensions?.code }).toEqual({
              field: field.name,
              code: 'UNAUTHENTICATED',
            });
          }
          // Over WebSocket an anonymous connection is closed at connection_init (4401): no operation runs.
          const wsOutcome = await new Promise<unknown>((resolve) => {
            const unsubscribe = client.subscribe(op, {
              next: (result) => {
                unsubscribe();
                resolve(result);
              },
              error: (error) => resolve((error as { code?: number }).code ?? error),
              complete: () => resolve('complete'),
            });
          });
          expect({ field: field.name, outcome: wsOutcome }).toEqual({ field: field.name, outcome: 4401 });
          checked++;
        }
      }
    } finally {
      await client.dispose();
    }
    expect(checked).toBeGreaterThan(5);
  });

  it('limits a project-scoped key to its projects', async () => {
    const create = 'mutation($i: CreateProjectInput!) { createProject(input: $i) { id slug } }';
    const a = (
      await hub.gql<{ createProject: { id: string; slug: string } }>(create, {
        i: { slug: unique('a'), name: 'A' },
      })
    ).data!.createProject;
    const b = (
      await hub.gql<{ createProject: { id: string; slug: string } }>(create, {
        i: { slug: unique('b'), name: 'B' },
      })
    ).data!.createProject;
    const scoped = await hub.key(Role.ADMIN, [a.id]);
    const list = await hub.gql<{ projects: { edges: Array<{ node: { id: string } }> } }>(
      '{ projects(first: 100) { edges { node { id } } } }',
      {},
      scoped,
    );
    expect(list.data?.projects.edges.map((e) => e.node.id)).toEqual([a.id]);
    const other = await hub.gql('query($s: String!) { project(slug: $s) { id } }', { s: b.slug }, scoped);
    expect(other.errors?.[0].extensions?.code).toBe('NOT_FOUND');
    const own = await hub.gql<{ project: { id: string } }>(
      'query($s: String!) { project(slug: $s) { id } }',
      { s: a.slug },
      scoped,
    );
    expect(own.data?.project.id).toBe(a.id);
    // A scoped admin can neither create projects outside its scope nor hand out keys beyond it.
    const created = await hub.gql(create, { i: { slug: unique('c'), name: 'C' } }, scoped);
    expect(created.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    const wider = await hub.gql(
      'mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { secret } }',
      { i: { name: 'w', role: 'VIEWER', projectIds: [b.id] } },
      scoped,
    );
    expect(wider.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    const unscoped = await hub.gql(
      'mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { secret } }',
      { i: { name: 'w', role: 'VIEWER' } },
      scoped,
    );
    expect(unscoped.errors?.[0].extensions?.code).toBe('FORBIDDEN');
  });

  it('revokes a key at once on the replica that revoked it', async () => {
    const created = await hub.gql<{ createApiKey: { secret: string; key: { id: string } } }>(
      'mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { secret key { id role } } }',
      { i: { name: unique('k'), role: 'VIEWER' } },
    );
    const { secret, key } = created.data!.createApiKey;
    expect((await hub.gql('{ me { role } }', {}, secret)).errors).toBeUndefined();
    const revoked = await hub.gql('mutation($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }', {
      id: key.id,
    });
    expect(revoked.errors).toBeUndefined();
    expect((await hub.gql('{ me { role } }', {}, secret)).errors?.[0].extensions?.code).toBe(
      'UNAUTHENTICATED',
    );
    const viewer = await hub.key(Role.VIEWER);
    const denied = await hub.gql(
      'mutation($id: ID!) { revokeApiKey(id: $id) { id } }',
      { id: key.id },
      viewer,
    );
    expect(denied.errors?.[0].extensions?.code).toBe('FORBIDDEN');
  });

  it('tells a project-scoped admin nothing of keys beyond its projects', async () => {
    const project = (
      await hub.gqlOk<{ createProject: { id: string } }>(
        'mutation($i: CreateProjectInput!) { createProject(input: $i) { id } }',
        { i: { slug: unique('scoped'), name: 'Scoped' } },
      )
    ).createProject;
    const scopedAdmin = await hub.key(Role.ADMIN, [project.id]);
    const outside = (
      await hub.gqlOk<{ createApiKey: { key: { id: string } } }>(
        'mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { key { id } } }',
        { i: { name: unique('k'), role: 'VIEWER' } },
      )
    ).createApiKey.key.id;
    const revoke = (id: string) =>
      hub.gql('mutation($id: ID!) { revokeApiKey(id: $id) { id } }', { id }, scopedAdmin);
    const unknown = await revoke('00000000-0000-4000-8000-000000000001');
    const beyond = await revoke(outside);
    expect(beyond.errors?.[0].extensions?.code).toBe('NOT_FOUND');
    expect(beyond.errors?.[0].extensions?.code).toBe(unknown.errors?.[0].extensions?.code);
    expect(beyond.errors?.[0].message.replace(outside, 'ID')).toBe(
      unknown.errors?.[0].message.replace('00000000-0000-4000-8000-000000000001', 'ID'),
    );
  });
});
