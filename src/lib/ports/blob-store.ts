/** Blob Storage, reduced to what the orchestrator needs: documents by container and name. */
export interface BlobStore {
  put(container: string, name: string, content: string | Uint8Array, contentType?: string): Promise<void>;
  /** `undefined` when the blob does not exist. */
  get(container: string, name: string): Promise<Buffer | undefined>;
  delete(container: string, name: string): Promise<void>;
  list(container: string, prefix: string): Promise<string[]>;
  ensure(containers: readonly string[]): Promise<void>;
}
