import { describe, expect, it } from 'vitest';
import { queueMessageBody } from '../../src/functions/define.js';
import { CLAIM_CHECK_FIELD, DEAD_LETTER_REASON_FIELD } from '../../src/lib/ports/queue.js';
import { InMemoryBlobStore } from '../fakes/in-memory-stores.js';

describe('queueMessageBody (the function edge)', () => {
  it('returns a plain body parsed, whether it arrives as an object, text or bytes', async () => {
    const blobs = new InMemoryBlobStore();
    expect(await queueMessageBody({ jobId: 'j1' }, blobs)).toEqual({ jobId: 'j1' });
    expect(await queueMessageBody('{"jobId":"j2"}', blobs)).toEqual({ jobId: 'j2' });
    expect(await queueMessageBody(Buffer.from('{"jobId":"j3"}'), blobs)).toEqual({ jobId: 'j3' });
  });

  it('reads a claim-checked body back from Blob Storage, keeping reason fields beside the reference', async () => {
    const blobs = new InMemoryBlobStore();
    await blobs.put('payloads', 'claims/q/1.json', JSON.stringify({ jobId: 'big', secrets: { k: 'v' } }));
    const body = await queueMessageBody(
      { [CLAIM_CHECK_FIELD]: 'payloads/claims/q/1.json', [DEAD_LETTER_REASON_FIELD]: 'Poison' },
      blobs,
    );
    expect(body).toEqual({ jobId: 'big', secrets: { k: 'v' }, [DEAD_LETTER_REASON_FIELD]: 'Poison' });
  });

  it('fails when the claim-checked payload is gone, so the message is retried and then poisoned', async () => {
    await expect(
      queueMessageBody({ [CLAIM_CHECK_FIELD]: 'payloads/claims/q/missing.json' }, new InMemoryBlobStore()),
    ).rejects.toThrow(/missing/);
  });
});
