import {
  getNullableType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isScalarType,
  type GraphQLArgument,
  type GraphQLInputField,
  type GraphQLInputType,
} from 'graphql';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { buildNerveSchema } from '../../src/server/schema';
import { startTestHub, type TestHub } from '../harness';
import { ProjectFixture } from '../support/fixture';
import { ownDatabase, type OwnDatabase } from '../support/own-database';

/**
 * A schema-driven fuzz of every mutation's arguments. For each mutation it builds a base argument set that
 * looks valid (the ids, slugs and names of a fixture project, so that checks past the first lookup are
 * reached), then spoils one field at a time, at every depth of the input types, with each category below.
 * Each input goes over HTTP with an admin key to a hub on a database of its own, and must be refused:
 *
 * - never INTERNAL_SERVER_ERROR;
 * - BAD_USER_INPUT naming a `field`; or, for a value that is well-formed but names nothing or clashes with
 *   the state of what it names, NOT_FOUND, CONFLICT or FORBIDDEN (say, a rollout that is no longer
 *   running); PAYLOAD_TOO_LARGE is not expected (the bodies stay under the request limit);
 * - no row written: every table's row count and content hash are the same after all of them.
 *
 * Deterministic: the PRNG is seeded and the inputs are sent one at a time in a fixed order.
 */

type Category =
  | 'wrong type'
  | 'missing or null'
  | 'NUL'
  | 'lone surrogate'
  | '1 MB string'
  | 'deep JSON'
  | 'huge number'
  | 'negative number'
  | 'long list'
  | 'many bad items';

const CATEGORIES: Category[] = [
  'wrong type',
  'missing or null',
  'NUL',
  'lone surrogate',
  '1 MB string',
  'deep JSON',
  'huge number',
  'negative number',
  'long list',
  'many bad items',
];

/** Stand-ins for what JSON.stringify cannot write, swapped into the body text. */
const DEEP = '\u0001deep-json\u0001';
const POSITIVE_INFINITY = '\u0001+1e999\u0001';
const NEGATIVE_INFINITY = '\u0001-1e999\u0001';
const MB = 'x'.repeat(1024 * 1024);
const DEEP_LEVELS = 100_000;
const LONG_LIST = 10_001;

type Reply = {
  data?: Record<string, unknown> | null;
  errors?: Array<{ message: string; extensions?: Record<string, unknown> }>;
};

interface Case {
  mutation: string;
  category: Category;
  /** Where the spoiled value is: `input.points.0.value`. */
  at: string;
  variables: Record<string, unknown>;
}

/** mulberry32: small, seeded, good enough to pick among values. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const random = prng(12);
const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)];
const uuid = (): string => {
  const hex = Array.from({ length: 32 }, () => Math.floor(random() * 16).toString(16)).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20)}`;
};

const scalarName = (type: GraphQLInputType): string | undefined => {
  const nullable = getNullableType(type);
  return isScalarType(nullable) ? nullable.name : undefined;
};
const isRequired = (field: GraphQLArgument | GraphQLInputField): boolean =>
  isNonNullType(field.type) && field.defaultValue === undefined;

/** Values of the wrong kind for a type; each is one case. */
function wrongTypes(type: GraphQLInputType): unknown[] {
  const nullable = getNullableType(type);
  // A single value where a list belongs is coerced into a list of one, so it is wrong only as an item.
  if (isListType(nullable)) return wrongTypes(nullable.ofType as GraphQLInputType);
  if (isInputObjectType(nullable)) return ['not an object', 7, [1, 2]];
  if (isEnumType(nullable)) return ['NOT_A_VALUE_OF_THE_ENUM', 3];
  switch (scalarName(type)) {
    case 'String':
      return [{ s: 1 }, 5, true];
    case 'ID':
      return [{ id: 1 }, 1.5, false];
    case 'Int':
    case 'SafeInt':
      return ['twelve', 1.5, true];
    case 'Float':
      return ['1.5x', { v: 1 }, false];
    case 'Boolean':
      return ['yes', 0];
    case 'DateTimeISO':
      return ['2026-13-45T99:00:00Z', { at: 1 }, 'yesterday'];
    case 'JSONObject':
      return [[1, 2], 'a string', 5];
    default:
      return [{ x: 1 }];
  }
}

describe('fuzz of every mutation argument', () => {
  let hub: TestHub;
  let fx: ProjectFixture;
  let url: string;
  let own: OwnDatabase | undefined;
  const counts = new Map<Category, number>(CATEGORIES.map((c) => [c, 0]));
  const codes = new Map<string, number>();
  let wsCount = 0;

  beforeAll(async () => {
    // A database of its own: the tables are compared whole, and other suites write to the shared one.
    own = await ownDatabase('fuzz');
    url = own.url;
    hub = await startTestHub({ databaseUrl: url });
    fx = await new ProjectFixture(hub).build();
    await fx.syncsDone();
    await hub.services.predictionLog.flush();
  }, 120_000);

  afterAll(async () => {
    try {
      await fx?.close();
      await hub?.close();
    } finally {
      // Even when closing failed (a poisoned write buffer, say), the database goes.
      await own?.drop();
    }
    const lines = CATEGORIES.map((c) => `  ${c.padEnd(16)} ${counts.get(c)}`);
    const total = [...counts.values()].reduce((a, b) => a + b, 0);
    process.stdout.write(
      `fuzz: ${total} inputs over HTTP, ${wsCount} of them again over WebSocket\n${lines.join('\n')}\n  answers by code: ${JSON.stringify(Object.fromEntries(codes))}\n`,
    );
  });

  /**
   * Row count and content hash of every table. Embedded PGlite serves one database whatever the URL
   * names, shared with the suites running beside this one: there only the rows of the fixture's project
   * (tables with a project_id) are compared; CI, on PostgreSQL, compares whole tables.
   */
  async function snapshot(): Promise<Record<string, string>> {
    const [{ current }]: Array<{ current: string }> = await hub.db.query(
      'SELECT current_database() AS current',
    );
    const isOwn = current === own?.name;
    const tables: Array<{ name: string }> = await hub.db.query(
      `SELECT table_name AS name FROM information_schema.tables t
        WHERE table_schema = 'public' AND table_type = 'BASE TABLE'
          AND ($1 OR EXISTS (SELECT 1 FROM information_schema.columns c WHERE c.table_schema = 'public'
                              AND c.table_name = t.table_name AND c.column_name = 'project_id'))
        ORDER BY table_name`,
      [isOwn],
    );
    const out: Record<string, string> = {};
    for (const { name } of tables) {
      const [row]: Array<{ n: string; h: string | null }> = await hub.db.query(
        `SELECT count(*) AS n, md5(string_agg(t::text, '' ORDER BY t::text)) AS h FROM "${name}" t
          ${isOwn ? '' : 'WHERE t.project_id = $1'}`,
        isOwn ? [] : [fx.projectId],
      );
      out[name] = `${row.n} ${row.h ?? ''}`;
    }
    return out;
  }

  /** Valid-looking values by argument or input field name: the fixture's objects. */
  function hint(mutation: string, name: string, type: GraphQLInputType): unknown {
    const ids: Record<string, () => string> = {
      acknowledgeAlert: () => fx.alertId,
      resolveAlert: () => fx.alertId,
      checkConnector: () => fx.connectorId,
      syncConnector: () => fx.connectorId,
      updateConnector: () => fx.connectorId,
      decideApproval: () => fx.approvalId,
      decideImpactAssessment: () => fx.assessmentId,
      finishRun: () => fx.openRunId,
      pauseRollout: () => fx.rolloutId,
      promoteRollout: () => fx.rolloutId,
      resumeRollout: () => fx.rolloutId,
      rollback: () => fx.rolloutId,
    };
    const features = { tenure: 3, spend: 12.5 };
    switch (name) {
      case 'id':
        return ids[mutation]?.() ?? uuid();
      case 'project':
        return fx.slug;
      case 'endpoint':
        return fx.endpoint;
      case 'model':
        return fx.modelName;
      case 'kpi':
        return fx.kpi;
      case 'alias':
        return 'challenger';
      case 'requestKey':
        return fx.requestKey;
      case 'modelId':
        return fx.modelId;
      case 'datasetId':
        return fx.datasetId;
      case 'runId':
        return fx.openRunId;
      case 'datasetVersionId':
        return fx.datasetVersionId;
      case 'modelVersionId':
        return fx.versionIds[0];
      case 'versionId':
        return fx.versionIds[1];
      case 'artifactSha256':
        return fx.artifactSha256;
      case 'connectorId':
        return fx.connectorId;
      case 'slug':
        return `fuzz-${uuid().slice(0, 8)}`;
      case 'kind':
        return scalarName(type) === 'String' ? 'zendesk' : undefined;
      case 'input':
        return scalarName(type) === 'JSONObject' ? features : undefined;
      case 'inputs':
        return isListType(getNullableType(type)) && scalarName(elementOf(type)) === 'JSONObject'
          ? [features]
          : [fx.datasetVersionId];
      case 'projectIds':
        return [fx.projectId];
      case 'datasetVersionIds':
        return [fx.datasetVersionId];
      default:
        return undefined;
    }
  }

  const elementOf = (type: GraphQLInputType): GraphQLInputType => {
    const nullable = getNullableType(type);
    return isListType(nullable) ? (nullable.ofType as GraphQLInputType) : nullable;
  };

  /** A valid-looking value of a type: required input fields only, hinted by name where the fixture helps. */
  function base(mutation: string, name: string, type: GraphQLInputType): unknown {
    const hinted = hint(mutation, name, type);
    if (hinted !== undefined) return hinted;
    const nullable = getNullableType(type);
    if (isListType(nullable)) return [base(mutation, name, nullable.ofType as GraphQLInputType)];
    if (isInputObjectType(nullable)) {
      const object: Record<string, unknown> = {};
      for (const field of Object.values(nullable.getFields())) {
        if (isRequired(field)) object[field.name] = base(mutation, field.name, field.type);
      }
      return object;
    }
    if (isEnumType(nullable)) return nullable.getValues()[0].value;
    switch (scalarName(type)) {
      case 'ID':
        return uuid();
      case 'Int':
      case 'SafeInt':
        return 1;
      case 'Float':
        return 0.5;
      case 'Boolean':
        return false;
      case 'DateTimeISO':
        return '2026-11-20T10:00:00Z';
      case 'JSONObject':
        return {};
      default:
        return `fuzz ${name}`;
    }
  }

  /** The spoiled values of one field, by category. */
  function spoiled(type: GraphQLInputType, baseValue: unknown): Array<[Category, unknown]> {
    const out: Array<[Category, unknown]> = wrongTypes(type).map((v) => ['wrong type', v]);
    if (isNonNullType(type)) out.push(['missing or null', null]);
    const nullable = getNullableType(type);
    const scalar = scalarName(type);
    if (scalar === 'String' || scalar === 'ID') {
      out.push(['NUL', `a\u0000${pick(['b', ''])}`], ['NUL', '\u0000']);
      out.push(['lone surrogate', pick(['x\ud800', '\ud800x'])], ['lone surrogate', 'y\udfffz']);
      out.push(['1 MB string', MB]);
    }
    if (scalar === 'JSONObject') {
      out.push(['NUL', { k: 'v\u0000' }], ['NUL', { 'k\u0000': 1 }]);
      out.push(['lone surrogate', { k: { l: ['\udc00'] } }], ['lone surrogate', { '\ud800': 1 }]);
      out.push(['1 MB string', { k: MB }]);
      out.push(['deep JSON', DEEP]);
      let nested: Record<string, unknown> = { leaf: 1 };
      for (let i = 0; i < 70; i++) nested = { a: nested };
      out.push(['deep JSON', nested]);
    }
    if (scalar === 'Int') out.push(['huge number', 2 ** 31], ['negative number', -(2 ** 31) - 1]);
    if (scalar === 'SafeInt') out.push(['huge number', 2 ** 53 + 2], ['negative number', -(2 ** 53) - 2]);
    if (scalar === 'Int' || scalar === 'SafeInt') out.push(['negative number', -1]);
    if (scalar === 'Float')
      out.push(['huge number', POSITIVE_INFINITY], ['negative number', NEGATIVE_INFINITY]);
    if (isListType(nullable)) {
      const element = nullable.ofType as GraphQLInputType;
      const item = Array.isArray(baseValue) && baseValue.length ? baseValue[0] : undefined;
      const long = Array.from({ length: LONG_LIST }, (_, i) => {
        const s = scalarName(element);
        if (s === 'ID') return uuid();
        if (s === 'String') return `item-${i}`;
        if (s === 'Int' || s === 'Float') return i;
        return item;
      });
      out.push(['long list', long]);
      const bad = wrongTypes(element)[0];
      out.push(['many bad items', Array.from({ length: 60 }, () => bad)]);
    }
    return out;
  }

  /** Every (path, type) reachable in a value of `type`, through input objects and lists, to `depth`. */
  function* fieldsOf(
    path: Array<string | number>,
    type: GraphQLInputType,
    depth: number,
    required = false,
  ): Generator<{ path: Array<string | number>; type: GraphQLInputType; required: boolean }> {
    yield { path, type, required };
    if (depth === 0) return;
    const nullable = getNullableType(type);
    if (isListType(nullable)) {
      yield* fieldsOf([...path, 0], nullable.ofType as GraphQLInputType, depth - 1);
    } else if (isInputObjectType(nullable)) {
      for (const field of Object.values(nullable.getFields())) {
        yield* fieldsOf([...path, field.name], field.type, depth - 1, isRequired(field));
      }
    }
  }

  /** `variables` with the value at `path` replaced (undefined: removed); the base is copied, not changed. */
  function withValue(variables: Record<string, unknown>, path: Array<string | number>, value: unknown) {
    const copy = structuredClone(variables);
    let holder: Record<string | number, unknown> = copy;
    for (let i = 0; i < path.length - 1; i++) {
      const key = path[i];
      if (holder[key] === undefined || holder[key] === null) {
        holder[key] = typeof path[i + 1] === 'number' ? [] : {};
      }
      holder = holder[key] as Record<string | number, unknown>;
    }
    const last = path[path.length - 1];
    if (value === undefined) delete holder[last];
    else holder[last] = value;
    return copy;
  }

  function casesFor(mutation: string, args: readonly GraphQLArgument[]): Case[] {
    const variables: Record<string, unknown> = {};
    for (const arg of args) {
      if (isRequired(arg)) variables[arg.name] = base(mutation, arg.name, arg.type);
    }
    const cases: Case[] = [];
    for (const arg of args) {
      for (const { path, type, required } of fieldsOf([arg.name], arg.type, 4)) {
        const at = path.join('.');
        // A list item is named by its list.
        const name = String([...path].reverse().find((key) => typeof key === 'string'));
        const here = path.reduce<unknown>(
          (value, key) => (value as Record<string | number, unknown> | undefined)?.[key],
          variables,
        );
        const baseValue = here ?? base(mutation, name, type);
        for (const [category, value] of spoiled(type, baseValue)) {
          cases.push({ mutation, category, at, variables: withValue(variables, path, value) });
        }
        if (required) {
          cases.push({
            mutation,
            category: 'missing or null',
            at,
            variables: withValue(variables, path, undefined),
          });
        }
      }
      if (isRequired(arg)) {
        cases.push({
          mutation,
          category: 'missing or null',
          at: arg.name,
          variables: withValue(variables, [arg.name], undefined),
        });
      }
    }
    return cases;
  }

  /** The body text: the stand-ins become what JSON.stringify cannot write. */
  const bodyOf = (query: string, variables: Record<string, unknown>): string =>
    JSON.stringify({ query, variables })
      .replaceAll(JSON.stringify(DEEP), '{"a":'.repeat(DEEP_LEVELS) + '1' + '}'.repeat(DEEP_LEVELS))
      .replaceAll(JSON.stringify(POSITIVE_INFINITY), '1e999')
      .replaceAll(JSON.stringify(NEGATIVE_INFINITY), '-1e999');

  it('refuses every spoiled argument of every mutation with a client error, writing nothing', async () => {
    const schema = await buildNerveSchema();
    const mutations = Object.values(schema.getMutationType()!.getFields()).sort((a, b) =>
      a.name.localeCompare(b.name),
    );
    expect(mutations.length).toBeGreaterThan(30);
    const before = await snapshot();
    const failures: string[] = [];
    const ALLOWED = new Set(['BAD_USER_INPUT', 'NOT_FOUND', 'CONFLICT', 'FORBIDDEN']);
    const judge = (label: string, field: string, reply: Reply, text: string): void => {
      const errors = reply.errors ?? [];
      if (!errors.length || reply.data?.[field] != null) {
        failures.push(`${label}: accepted`);
        return;
      }
      for (const error of errors) {
        const code = String(error.extensions?.code);
        codes.set(code, (codes.get(code) ?? 0) + 1);
        const problem = !ALLOWED.has(code)
          ? `answered ${code}`
          : code === 'BAD_USER_INPUT' &&
              (typeof error.extensions?.field !== 'string' || !error.extensions.field)
            ? 'BAD_USER_INPUT names no field'
            : undefined;
        if (problem) failures.push(`${label}: ${problem}: ${error.message.slice(0, 200)}`);
      }
      if (text.includes(MB.slice(0, 1024))) failures.push(`${label}: the answer quotes the megabyte`);
    };
    const ws = createClient({
      url: hub.url.replace('http://', 'ws://'),
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${hub.adminKey}` },
      retryAttempts: 0,
    });
    const overWebSocket = (query: string, variables: Record<string, unknown>): Promise<Reply> =>
      new Promise((resolve) => {
        ws.subscribe(
          { query, variables },
          {
            next: (result) => resolve(result as Reply),
            // Refused before it ran (validation): the errors come alone.
            error: (error) => resolve({ errors: error as Reply['errors'] }),
            complete: () => resolve({}),
          },
        );
      });

    for (const mutation of mutations) {
      const signature = mutation.args.map((a) => `$${a.name}: ${a.type.toString()}`).join(', ');
      const call = mutation.args.map((a) => `${a.name}: $${a.name}`).join(', ');
      const query = `mutation Fuzz${signature ? `(${signature})` : ''} { ${mutation.name}${call ? `(${call})` : ''} { __typename } }`;
      for (const [n, c] of casesFor(mutation.name, mutation.args).entries()) {
        counts.set(c.category, counts.get(c.category)! + 1);
        const label = `${c.mutation} ${c.at} (${c.category})`;
        const body = bodyOf(query, c.variables);
        const res = await fetch(hub.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${hub.adminKey}` },
          body,
        });
        const text = await res.text();
        let reply: Reply;
        try {
          reply = JSON.parse(text) as Reply;
        } catch {
          failures.push(`${label}: HTTP ${res.status}, not JSON: ${text.slice(0, 200)}`);
          continue;
        }
        judge(`${label} over HTTP`, mutation.name, reply, text);
        // Every tenth one again over WebSocket, where the client can write it (no stand-ins).
        if (n % 10 === 0 && body === JSON.stringify({ query, variables: c.variables })) {
          wsCount++;
          const viaWs = await overWebSocket(query, c.variables);
          judge(`${label} over WebSocket`, mutation.name, viaWs, JSON.stringify(viaWs));
        }
      }
    }

    await ws.dispose();
    const after = await snapshot();
    const written = Object.keys(after).filter((table) => after[table] !== before[table]);
    expect({ failures, written }).toEqual({ failures: [], written: [] });
  }, 300_000);
});
