import fc from 'fast-check';
import { Agent } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FUNCTIONS } from '../../src/functions/all.js';
import { judge, requestText, send, sendRaw } from '../fuzz/client.js';
import { fuzzRequest, rawRequest, ROUTE_TEMPLATES } from '../fuzz/requests.js';
import { startTestRunner, type TestRunner } from '../support/runner.js';

const KEY = 'prop-key-7f3a';

describe('HTTP edge properties: whatever the bytes, never a 5xx, a stack trace or a host path', () => {
  let r: TestRunner;
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  beforeAll(async () => {
    r = await startTestRunner({ LOCAL_API_KEY: KEY }, { workers: false });
  });
  afterAll(async () => {
    agent.destroy();
    await r?.stop();
  });

  it('generates requests for every HTTP route the app registers', () => {
    const templates = new Set<string>(ROUTE_TEMPLATES.map((t) => t.replace(/\{id\}/g, '{}')));
    for (const f of FUNCTIONS) {
      if (f.kind !== 'http') continue;
      expect(templates, f.route).toContain(`/api/${f.route.replace(/\{[^}]+\}/g, '{}')}`);
    }
  });

  it('answers generated requests with < 500 and problem documents for 4xx on /api/jobs*', async () => {
    await fc.assert(
      fc.asyncProperty(fuzzRequest(KEY), async (req) => {
        const reply = await send(r.url, req, agent);
        expect(
          judge(req.target, requestText(req), reply, 30_000, req.method),
          `${req.method} ${req.target.slice(0, 200)} → ${reply.status} ${reply.body.slice(0, 300)}`,
        ).toEqual([]);
      }),
      { numRuns: 150 },
    );
  });

  it('answers broken HTTP framing with a 4xx, not a dropped connection or a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(rawRequest, async (req) => {
        const reply = await sendRaw(r.url, req);
        expect(reply.status, req.raw.toString('latin1').slice(0, 120)).toBeGreaterThanOrEqual(200);
        expect(judge(req.target, requestText(req), reply, 30_000, req.raw.toString('latin1').split(' ')[0])).toEqual(
          [],
        );
      }),
      { numRuns: 40 },
    );
  });
});
