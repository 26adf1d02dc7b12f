import type { BlobServiceClient } from '@azure/storage-blob';
import type { Config } from '../config.js';
import type { BlobStore } from '../ports/blob-store.js';
import { azureCredential } from './azure-credential.js';

/** Blob Storage adapter (Azurite locally). */
export class AzureBlobStore implements BlobStore {
  private constructor(readonly service: BlobServiceClient) {}

  static async create(config: Config): Promise<AzureBlobStore> {
    const { BlobServiceClient } = await import('@azure/storage-blob');
    const { connectionString, blobServiceUri } = config.storage;
    if (connectionString) return new AzureBlobStore(BlobServiceClient.fromConnectionString(connectionString));
    if (!blobServiceUri) throw new Error('JobsStorage or JobsStorage__blobServiceUri is required');
    return new AzureBlobStore(new BlobServiceClient(blobServiceUri, await azureCredential(config)));
  }

  async put(
    container: string,
    name: string,
    content: string | Uint8Array,
    contentType = 'application/json',
  ): Promise<void> {
    const data = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
    await this.service
      .getContainerClient(container)
      .getBlockBlobClient(name)
      .uploadData(data, { blobHTTPHeaders: { blobContentType: contentType } });
  }

  async get(container: string, name: string): Promise<Buffer | undefined> {
    try {
      return await this.service.getContainerClient(container).getBlockBlobClient(name).downloadToBuffer();
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) return undefined;
      throw error;
    }
  }

  async delete(container: string, name: string): Promise<void> {
    await this.service.getContainerClient(container).getBlockBlobClient(name).deleteIfExists();
  }

  async list(container: string, prefix: string): Promise<string[]> {
    const names: string[] = [];
    for await (const blob of this.service.getContainerClient(container).listBlobsFlat({ prefix }))
      names.push(blob.name);
    return names;
  }

  async ensure(containers: readonly string[]): Promise<void> {
    await Promise.all(containers.map((c) => this.service.getContainerClient(c).createIfNotExists()));
  }
}
