import { describe, expect, it } from 'vitest';
import { BlobServiceClient, StorageSharedKeyCredential, type UserDelegationKey } from '@azure/storage-blob';
import { createSasIssuer } from '../../../src/lib/providers/azure-batch/sas.js';

const NOW = Date.parse('2026-11-23T10:00:00Z');
const DAY = 24 * 3600 * 1000;

/** A blob service on Entra ID: no account key, so SAS must be user-delegation SAS. */
function entraService(requests: Array<{ startsOn: Date; expiresOn: Date }>): BlobServiceClient {
  const service = new BlobServiceClient('https://acct.blob.core.windows.net', {
    getToken: async () => ({ token: 't', expiresOnTimestamp: NOW + DAY }),
  });
  service.getUserDelegationKey = (async (startsOn: Date, expiresOn: Date) => {
    requests.push({ startsOn, expiresOn });
    const key: UserDelegationKey = {
      signedObjectId: '11111111-1111-1111-1111-111111111111',
      signedTenantId: '22222222-2222-2222-2222-222222222222',
      signedStartsOn: startsOn,
      signedExpiresOn: expiresOn,
      signedService: 'b',
      signedVersion: '2025-01-05',
      value: Buffer.from('delegation-key-bytes-32-long!!!!').toString('base64'),
    };
    return key as never;
  }) as unknown as BlobServiceClient['getUserDelegationKey'];
  return service;
}

describe('azure-batch SAS issuer', () => {
  it('signs user-delegation SAS on Entra ID: read-only input, create/write output, https only, one key reused', async () => {
    const requests: Array<{ startsOn: Date; expiresOn: Date }> = [];
    const issuer = await createSasIssuer(entraService(requests), () => NOW);

    const read = new URL(await issuer.readBlobUrl('staging', 'j-1/job-spec.json', new Date(NOW + 3600_000)));
    const write = new URL(
      await issuer.writeBlobContainerUrl('results', 'azure-batch/j-1/stdout.txt', new Date(NOW + 2 * DAY)),
    );

    expect(read.pathname).toBe('/staging/j-1/job-spec.json');
    expect(read.searchParams.get('sp')).toBe('r');
    expect(read.searchParams.get('sr')).toBe('b');
    expect(read.searchParams.get('skoid')).toBe('11111111-1111-1111-1111-111111111111');
    expect(read.searchParams.get('spr')).toBe('https');
    expect(read.searchParams.get('sig')).toBeTruthy();
    // The output SAS names one blob (sr=b) on the container URL Batch builds the blob URL from.
    expect(write.pathname).toBe('/results');
    expect(write.searchParams.get('sp')).toBe('cw');
    expect(write.searchParams.get('sr')).toBe('b');
    expect(requests).toHaveLength(1);
  });

  it('caps a user-delegation SAS at the 7-day key lifetime', async () => {
    const issuer = await createSasIssuer(entraService([]), () => NOW);

    const write = new URL(
      await issuer.writeBlobContainerUrl('results', 'azure-batch/j-1/stdout.txt', new Date(NOW + 30 * DAY)),
    );

    expect(Date.parse(write.searchParams.get('se')!)).toBeLessThanOrEqual(NOW + 7 * DAY);
  });

  it('signs with the account key locally (Azurite over http) without asking for a delegation key', async () => {
    const key = Buffer.from('k'.repeat(32)).toString('base64');
    const service = new BlobServiceClient(
      'http://127.0.0.1:10000/devstoreaccount1',
      new StorageSharedKeyCredential('devstoreaccount1', key),
    );
    service.getUserDelegationKey = (() => {
      throw new Error('must not be called with a shared key');
    }) as never;
    const issuer = await createSasIssuer(service, () => NOW);

    const read = new URL(await issuer.readBlobUrl('staging', 'a.json', new Date(NOW + 60_000)));

    expect(read.searchParams.get('sp')).toBe('r');
    expect(read.searchParams.get('skoid')).toBeNull();
    expect(read.searchParams.get('spr')).toBe('https,http');
    expect(read.toString()).not.toContain(key);
  });
});
