import type { BlobServiceClient, UserDelegationKey } from '@azure/storage-blob';

/**
 * Issues the narrow SAS URLs Batch nodes use, so no storage key ever reaches a node:
 * a read-only SAS on one staged blob (resource file) and, per output file, a create/write-only SAS
 * on that one blob. A task can therefore write its own result and logs and nothing else: not another
 * job's outputs, not a new name. (Directory-scoped SAS needs a hierarchical-namespace account, so
 * per-blob SAS is what holds on every account.) With a shared-key client (Azurite, connection
 * strings) the SAS is signed with the account key here, in the orchestrator; with Entra ID it is a
 * user-delegation SAS.
 */
export interface SasIssuer {
  readBlobUrl(container: string, blobName: string, expiresOn: Date): Promise<string>;
  /**
   * The container URL an output file destination takes, carrying a SAS valid for `blobName` only:
   * Batch appends the URL's query to the blob URL it builds from the container URL and the path.
   */
  writeBlobContainerUrl(container: string, blobName: string, expiresOn: Date): Promise<string>;
}

/** User-delegation keys live at most 7 days; a SAS signed with one cannot outlive it. */
const MAX_DELEGATION_MS = 7 * 24 * 3600 * 1000 - 60_000;
/** Start a little in the past: node and storage clocks may run behind ours. */
const CLOCK_SKEW_MS = 5 * 60_000;

/** Builds a {@link SasIssuer} on a blob service client. */
export async function createSasIssuer(service: BlobServiceClient, now: () => number = Date.now): Promise<SasIssuer> {
  const sb = await import('@azure/storage-blob');
  const sharedKey = service.credential instanceof sb.StorageSharedKeyCredential ? service.credential : undefined;
  const protocol = service.url.startsWith('https:') ? sb.SASProtocol.Https : sb.SASProtocol.HttpsAndHttp;
  let delegation: { key: UserDelegationKey; expiresOn: number } | undefined;

  const delegationKey = async (startsOn: Date, expiresOn: Date): Promise<UserDelegationKey> => {
    // Reuse a key that covers the requested expiry; ask for a fresh long one otherwise (one call per day or so).
    if (delegation && delegation.expiresOn >= expiresOn.getTime()) return delegation.key;
    const keyExpiry = new Date(startsOn.getTime() + MAX_DELEGATION_MS);
    const key = await service.getUserDelegationKey(startsOn, keyExpiry);
    delegation = { key, expiresOn: keyExpiry.getTime() };
    return key;
  };

  const sign = async (
    values: Omit<import('@azure/storage-blob').BlobSASSignatureValues, 'startsOn' | 'protocol'>,
  ): Promise<string> => {
    const startsOn = new Date(now() - CLOCK_SKEW_MS);
    if (sharedKey) {
      return sb.generateBlobSASQueryParameters({ ...values, startsOn, protocol }, sharedKey).toString();
    }
    const expiresOn = new Date(Math.min(values.expiresOn!.getTime(), startsOn.getTime() + MAX_DELEGATION_MS));
    const key = await delegationKey(startsOn, expiresOn);
    return sb
      .generateBlobSASQueryParameters({ ...values, expiresOn, startsOn, protocol }, key, service.accountName)
      .toString();
  };

  return {
    async readBlobUrl(container, blobName, expiresOn) {
      const blob = service.getContainerClient(container).getBlobClient(blobName);
      const sas = await sign({
        containerName: container,
        blobName,
        permissions: sb.BlobSASPermissions.parse('r'),
        expiresOn,
      });
      return `${blob.url}?${sas}`;
    },
    async writeBlobContainerUrl(container, blobName, expiresOn) {
      const client = service.getContainerClient(container);
      const sas = await sign({
        containerName: container,
        blobName,
        permissions: sb.BlobSASPermissions.parse('cw'),
        expiresOn,
      });
      return `${client.url}?${sas}`;
    },
  };
}
