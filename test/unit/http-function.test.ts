import { HttpRequest, InvocationContext } from '@azure/functions';
import { describe, expect, it } from 'vitest';
import { httpFunction } from '../../src/functions/define.js';
import { NotFoundError } from '../../src/lib/errors.js';

const request = (url: string) => new HttpRequest({ url, method: 'GET' });
const context = () => new InvocationContext({ functionName: 'test', invocationId: 'i-1' });

describe('httpFunction', () => {
  it('imports the handler module on the first invocation, not when the route is defined', async () => {
    let loads = 0;
    const fn = httpFunction({
      name: 'lazy',
      route: 'lazy',
      methods: ['GET'],
      deps: false,
      load: async () => {
        loads++;
        return { answer: () => 42 };
      },
      handler: async ({ use }) => ({ status: 200, jsonBody: { answer: use.answer() } }),
    });
    expect(loads).toBe(0);
    const reply = await fn.handler(request('http://127.0.0.1/api/lazy'), context());
    expect(reply).toMatchObject({ status: 200, jsonBody: { answer: 42 } });
    expect(loads).toBe(1);
    expect(fn).toMatchObject({ kind: 'http', authLevel: 'function', route: 'lazy' });
    expect(Object.keys(fn)).not.toContain('load');
  });

  it('turns a typed error from the handler, and a module that fails to load, into problem documents', async () => {
    const notFound = httpFunction({
      name: 'missing',
      route: 'missing/{id}',
      methods: ['GET'],
      deps: false,
      load: async () => ({}),
      handler: async ({ request: r }) => {
        throw new NotFoundError('thing', r.params.id ?? '');
      },
    });
    const reply = await notFound.handler(request('http://127.0.0.1/api/missing/x'), context());
    expect(reply.status).toBe(404);
    expect(reply.headers).toMatchObject({ 'content-type': 'application/problem+json' });

    const broken = httpFunction({
      name: 'broken',
      route: 'broken',
      methods: ['GET'],
      deps: false,
      load: () => Promise.reject(new Error('module failed to load at /somewhere/secret.js')),
      handler: async () => ({ status: 200 }),
    });
    const failed = await broken.handler(request('http://127.0.0.1/api/broken'), context());
    expect(failed.status).toBe(500);
    expect(String(failed.body)).not.toContain('secret.js');
  });
});
