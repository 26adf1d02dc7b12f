import type { JobRecord } from '../../core/job.js';
export { ASSET_OPS, type AssetOp } from '../../core/asset-ops.js';
/** The succeeded jobs that created the assets an operation refers to (their result.asset says where). */
export interface AssetRefs {
  readonly dataset?: JobRecord;
  readonly model?: JobRecord;
  readonly endpoint?: JobRecord;
}
