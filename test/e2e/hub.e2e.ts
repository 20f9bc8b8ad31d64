import { Role } from '../../src/modules/api-keys/api-key.entity';
import { startTestHub, unique, type TestHub } from '../harness';

describe('hub', () => {
  let hub: TestHub;
  beforeAll(async () => {
    hub = await startTestHub();
  });
  afterAll(() => hub.close());

  it('answers me for a valid key and UNAUTHENTICATED without one', async () => {
    const ok = await hub.gql<{ me: { role: string } }>('{ me { role name } }');
    expect(ok.data?.me.role).toBe('ADMIN');
    const anon = await hub.gql('{ me { role } }', {}, null);
    expect(anon.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
    const bad = await hub.gql('{ me { role } }', {}, 'nrv_nope');
    expect(bad.status).toBe(401);
    expect(bad.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('creates projects and pages through them with cursors', async () => {
    const slugs = [unique('p'), unique('p'), unique('p')];
    for (const slug of slugs) {
      const res = await hub.gql(
        'mutation($i: CreateProjectInput!) { createProject(input: $i) { id slug } }',
        { i: { slug, name: slug } },
      );
      expect(res.errors).toBeUndefined();
    }
    const first = await hub.gql<{
      projects: {
        edges: Array<{ node: { slug: string } }>;
        pageInfo: { endCursor: string; hasNextPage: boolean };
      };
    }>('{ projects(first: 2) { edges { node { slug } } pageInfo { endCursor hasNextPage } } }');
    expect(first.data?.projects.edges).toHaveLength(2);
    expect(first.data?.projects.pageInfo.hasNextPage).toBe(true);
    const dup = await hub.gql('mutation($i: CreateProjectInput!) { createProject(input: $i) { id } }', {
      i: { slug: slugs[0], name: 'x' },
    });
    expect(dup.errors?.[0].extensions).toMatchObject({ code: 'CONFLICT', field: 'slug' });
    const viewer = await hub.key(Role.VIEWER);
    const denied = await hub.gql(
      'mutation($i: CreateProjectInput!) { createProject(input: $i) { id } }',
      { i: { slug: unique('p'), name: 'x' } },
      viewer,
    );
    expect(denied.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    const badPage = await hub.gql('{ projects(first: -1) { edges { cursor } } }');
    expect(badPage.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'first' });
  });

  it('exposes Prometheus series by operation on /metrics, to a key holder only', async () => {
    const name = `Probe${Date.now()}`;
    expect((await hub.gql(`query ${name} { me { role } }`)).errors).toBeUndefined();
    expect((await hub.gql(`query ${name} { me { role } }`)).errors).toBeUndefined();
    const base = hub.url.replace('/graphql', '');
    expect((await fetch(`${base}/metrics`)).status).toBe(401);
    const res = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${hub.adminKey}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toContain(`nerve_graphql_requests_total{operation="${name}",type="query",outcome="ok"} 2`);
    expect(text).toContain(
      `nerve_graphql_request_duration_seconds_count{operation="${name}",type="query"} 2`,
    );
    expect(text).toMatch(
      new RegExp(
        `nerve_graphql_request_duration_seconds_bucket\\{le="\\+Inf",operation="${name}",type="query"\\} 2`,
      ),
    );
    expect(text).toMatch(/nerve_http_requests_total\{route="\/graphql",status="200"\} \d+/);
  });
});
