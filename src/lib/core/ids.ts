import { randomBytes } from 'node:crypto';

const CROCKFORD = '0123456789abcdefghjkmnpqrstvwxyz';

/**
 * Job ids are `j-` + a lower-case ULID: sortable by creation time, 28 characters, and made only of
 * characters every provider accepts in resource names (SageMaker, Vertex labels, Batch task ids).
 */
export function newJobId(now: number = Date.now()): string {
  let time = '';
  let t = now;
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32] + time;
    t = Math.floor(t / 32);
  }
  const bytes = randomBytes(16);
  let rand = '';
  for (let i = 0; i < 16; i++) rand += CROCKFORD[bytes[i]! % 32];
  return `j-${time}${rand}`;
}

/** Ids we could have issued: anything else is simply a job that does not exist. */
export const JOB_ID_PATTERN = /^j-[0-9a-hjkmnp-tv-z]{26}$/;

export function isJobId(id: string): boolean {
  return JOB_ID_PATTERN.test(id);
}
