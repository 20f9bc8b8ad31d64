import type { FieldSpec } from './contract';
import { ConnectorError } from './errors';
import { validateFields } from './validate';

const field = (spec: Partial<FieldSpec> & Pick<FieldSpec, 'name' | 'type'>): FieldSpec => ({
  description: spec.name,
  ...spec,
});

/** The ConnectorError validateFields throws (fails the test if it returns or throws something else). */
function failure(fields: FieldSpec[], input: unknown, prefix = 'config'): ConnectorError {
  let error: unknown;
  try {
    validateFields(fields, input, prefix);
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(ConnectorError);
  const connectorError = error as ConnectorError;
  expect(connectorError.kind).toBe('PERMANENT');
  return connectorError;
}

describe('validateFields', () => {
  describe('the input', () => {
    it.each([null, undefined, 'text', 42, ['a']])(
      'refuses %p as not an object, naming the prefix',
      (input) => {
        const error = failure([], input, 'secrets');
        expect(error.message).toBe('secrets: must be an object');
        expect(error.details.field).toBe('secrets');
      },
    );

    it('accepts an empty object when nothing is required', () => {
      expect(validateFields([field({ name: 'a', type: 'string' })], {}, 'config')).toEqual({});
    });
  });

  describe('required fields and defaults', () => {
    const fields = [
      field({ name: 'region', type: 'string', required: true }),
      field({ name: 'pageSize', type: 'integer', default: 100 }),
      field({ name: 'archived', type: 'boolean', default: false }),
      field({ name: 'pipelines', type: 'string[]', default: ['default'] }),
      field({ name: 'note', type: 'string' }),
    ];

    it.each([undefined, null, ''])('refuses a required field given as %p', (value) => {
      const error = failure(fields, { region: value });
      expect(error.message).toBe('config.region: is required');
      expect(error.details.field).toBe('config.region');
    });

    it('refuses a missing required field', () => {
      expect(failure(fields, {}).message).toBe('config.region: is required');
    });

    it('applies defaults, including falsy ones, and leaves optional fields out', () => {
      const out = validateFields(fields, { region: 'eu' }, 'config');
      expect(out).toEqual({ region: 'eu', pageSize: 100, archived: false, pipelines: ['default'] });
      expect('note' in out).toBe(false);
    });

    it('applies a default for a field given as null or empty', () => {
      expect(validateFields(fields, { region: 'eu', pageSize: null, archived: '' }, 'config')).toMatchObject({
        pageSize: 100,
        archived: false,
      });
    });

    it('keeps a given value over the default', () => {
      expect(
        validateFields(fields, { region: 'eu', pageSize: 5, archived: true, pipelines: [] }, 'config'),
      ).toEqual({ region: 'eu', pageSize: 5, archived: true, pipelines: [] });
    });

    it('fills a required field that has a default', () => {
      const withDefault = [field({ name: 'host', type: 'string', required: true, default: 'api.acme.com' })];
      expect(validateFields(withDefault, {}, 'config')).toEqual({ host: 'api.acme.com' });
    });
  });

  describe('unknown fields', () => {
    it('names the unknown field and the expected ones', () => {
      const fields = [
        field({ name: 'region', type: 'string' }),
        field({ name: 'pageSize', type: 'integer' }),
      ];
      const error = failure(fields, { region: 'eu', regoin: 'us' });
      expect(error.message).toBe('config.regoin: unknown field; expected one of region, pageSize');
      expect(error.details.field).toBe('config.regoin');
    });

    it('refuses an unknown field even when it is undefined', () => {
      expect(failure([], { extra: undefined }).details.field).toBe('config.extra');
    });
  });

  describe('string', () => {
    const fields = [field({ name: 'name', type: 'string' })];

    it('accepts a string as is', () => {
      expect(validateFields(fields, { name: ' Acme ' }, 'config')).toEqual({ name: ' Acme ' });
    });

    it.each([42, true, ['a'], { a: 1 }])('refuses %p', (value) => {
      expect(failure(fields, { name: value }).message).toBe('config.name: must be a string');
    });

    it('checks oneOf', () => {
      const region = [field({ name: 'region', type: 'string', oneOf: ['eu', 'us'] })];
      expect(validateFields(region, { region: 'us' }, 'config')).toEqual({ region: 'us' });
      const error = failure(region, { region: 'EU' });
      expect(error.message).toBe('config.region: must be one of eu, us');
      expect(error.details.field).toBe('config.region');
    });
  });

  describe('url', () => {
    const fields = [field({ name: 'baseUrl', type: 'url' })];

    it('accepts http and https URLs and drops trailing slashes', () => {
      expect(validateFields(fields, { baseUrl: 'https://api.acme.com/v1//' }, 'config')).toEqual({
        baseUrl: 'https://api.acme.com/v1',
      });
      expect(validateFields(fields, { baseUrl: 'http://127.0.0.1:8080' }, 'config')).toEqual({
        baseUrl: 'http://127.0.0.1:8080',
      });
    });

    it.each([42, 'not a url', '/relative/path'])('refuses %p as not a URL', (value) => {
      expect(failure(fields, { baseUrl: value }).message).toBe('config.baseUrl: must be a URL');
    });

    it.each(['ftp://files.acme.com', 'file:///etc/passwd', 'javascript:alert(1)', 'ws://acme.com'])(
      'refuses the protocol of %s',
      (value) => {
        expect(failure(fields, { baseUrl: value }).message).toBe('config.baseUrl: must be an http(s) URL');
      },
    );

    it.each(['https://user:hunter2@acme.com', 'https://user@acme.com', 'https://:hunter2@acme.com'])(
      'refuses embedded credentials in %s without repeating them',
      (value) => {
        const error = failure(fields, { baseUrl: value });
        expect(error.message).toBe('config.baseUrl: must not carry credentials; use the secrets');
        expect(error.message).not.toContain('hunter2');
        expect(error.details.field).toBe('config.baseUrl');
      },
    );
  });

  describe('integer', () => {
    const fields = [field({ name: 'pageSize', type: 'integer', min: 1, max: 500 })];

    it('accepts integers within min and max, inclusive', () => {
      expect(validateFields(fields, { pageSize: 1 }, 'config')).toEqual({ pageSize: 1 });
      expect(validateFields(fields, { pageSize: 500 }, 'config')).toEqual({ pageSize: 500 });
    });

    it.each([1.5, '10', NaN, Infinity, true])('refuses %p as not an integer', (value) => {
      expect(failure(fields, { pageSize: value }).message).toBe('config.pageSize: must be an integer');
    });

    it('checks min', () => {
      expect(failure(fields, { pageSize: 0 }).message).toBe('config.pageSize: must be at least 1');
    });

    it('checks max', () => {
      expect(failure(fields, { pageSize: 501 }).message).toBe('config.pageSize: must be at most 500');
    });

    it('accepts 0 and negatives without bounds', () => {
      const unbounded = [field({ name: 'offset', type: 'integer' })];
      expect(validateFields(unbounded, { offset: 0 }, 'config')).toEqual({ offset: 0 });
      expect(validateFields(unbounded, { offset: -3 }, 'config')).toEqual({ offset: -3 });
    });
  });

  describe('boolean', () => {
    const fields = [field({ name: 'archived', type: 'boolean' })];

    it('accepts true and false', () => {
      expect(validateFields(fields, { archived: false }, 'config')).toEqual({ archived: false });
      expect(validateFields(fields, { archived: true }, 'config')).toEqual({ archived: true });
    });

    it.each(['true', 1, 0])('refuses %p', (value) => {
      expect(failure(fields, { archived: value }).message).toBe('config.archived: must be true or false');
    });
  });

  describe('string[]', () => {
    const fields = [field({ name: 'tags', type: 'string[]' })];

    it('accepts a list of strings, and an empty list', () => {
      expect(validateFields(fields, { tags: ['a', 'b'] }, 'config')).toEqual({ tags: ['a', 'b'] });
      expect(validateFields(fields, { tags: [] }, 'config')).toEqual({ tags: [] });
    });

    it.each([['a', 1], 'a,b', [null], { 0: 'a' }])('refuses %p', (value) => {
      expect(failure(fields, { tags: value }).message).toBe('config.tags: must be a list of strings');
    });
  });

  describe('json', () => {
    const fields = [field({ name: 'conf', type: 'json' })];
    it('takes any JSON object, nested, and refuses what is not an object', () => {
      const conf = { drifted: ['a', 'b'], evidence: { psi: 0.3, features: [{ name: 'a' }] } };
      expect(validateFields(fields, { conf }, 'input')).toEqual({ conf });
      expect(failure(fields, { conf: [1, 2] }, 'input').message).toContain('input.conf');
      expect(failure(fields, { conf: 'text' }, 'input').message).toContain('input.conf');
    });
  });

  describe('object', () => {
    const fields = [field({ name: 'content', type: 'object' })];

    it('accepts an object of strings, numbers and booleans', () => {
      const content = { subject: 'Hi', priority: 2, urgent: true };
      expect(validateFields(fields, { content }, 'input')).toEqual({ content });
    });

    it.each([['a'], 'text', 3])('refuses %p as not an object', (value) => {
      expect(failure(fields, { content: value }, 'input').message).toBe('input.content: must be an object');
    });

    it.each([
      ['nested object', { ok: 'x', meta: { a: 1 } }],
      ['array', { ok: 'x', meta: ['a'] }],
      ['null', { ok: 'x', meta: null }],
      ['undefined', { ok: 'x', meta: undefined }],
    ])('refuses a %s value, naming prefix.field.key', (_name, content) => {
      const error = failure(fields, { content }, 'input');
      expect(error.message).toBe('input.content.meta: must be a string, number or boolean');
      expect(error.details.field).toBe('input.content.meta');
    });
  });

  it('stops at the first bad field, in spec order', () => {
    const fields = [field({ name: 'a', type: 'integer' }), field({ name: 'b', type: 'boolean' })];
    expect(failure(fields, { b: 'no', a: 'no' }).details.field).toBe('config.a');
  });
});
