import { z } from 'zod';
import { ValidationError } from '../errors.js';

/**
 * Where a list page ended: the last job consumed, in list order (newest first, then by id).
 * Any store can resume from it, including one whose index is split over several partitions: each
 * part reads on from the same position and the parts are merged.
 */
export interface PageCursor {
  /** The job's `createdAt` in epoch milliseconds. */
  readonly t: number;
  readonly id: string;
}

/** Longest token we accept; ours are under 100 characters. */
export const MAX_PAGE_TOKEN_LENGTH = 512;

const CursorSchema = z.strictObject({
  v: z.literal(1),
  t: z.number().int().min(0).max(9_999_999_999_999),
  id: z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/),
});

/** The continuation token a client sees: base64url of our own JSON, so its format is ours alone. */
export function encodePageToken(cursor: PageCursor): string {
  return Buffer.from(JSON.stringify({ v: 1, t: cursor.t, id: cursor.id }), 'utf8').toString('base64url');
}

/** The cursor in a token we issued, or `undefined` for anything else (never throws). */
export function decodePageToken(token: string): PageCursor | undefined {
  if (token.length === 0 || token.length > MAX_PAGE_TOKEN_LENGTH || !/^[A-Za-z0-9_-]+$/.test(token)) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  const parsed = CursorSchema.safeParse(json);
  return parsed.success ? { t: parsed.data.t, id: parsed.data.id } : undefined;
}

export const BAD_PAGE_TOKEN_MESSAGE =
  'is not a continuation token this API issued; repeat the first request without it';

/** {@link decodePageToken}, as a 400 naming `continuationToken` when the token is not ours. */
export function parsePageToken(token: string): PageCursor {
  const cursor = decodePageToken(token);
  if (!cursor) throw new ValidationError([{ field: 'continuationToken', message: BAD_PAGE_TOKEN_MESSAGE }]);
  return cursor;
}
