/**
 * Dates as the Essedum executors wrote them (Python `str(datetime)` of an aware UTC datetime) and
 * as the Essedum backend parses them, with the Java pattern `yyyy-MM-dd HH:mm:ss.SSSSSSXXX`:
 * always six fraction digits and a `+00:00` offset (Java's `XXX` writes `Z` for UTC, but parsing
 * `+00:00` is what the backend does with the executors' replies, so that is what we send).
 */
export function formatEssedumDate(value: string | Date): string {
  const d = typeof value === 'string' ? new Date(value) : value;
  if (Number.isNaN(d.getTime())) throw new RangeError(`not a date: ${String(value)}`);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  // JS dates carry milliseconds; the microsecond digits are zero.
  return `${p(d.getUTCFullYear(), 4)}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}.${p(d.getUTCMilliseconds(), 3)}000+00:00`;
}

/** Seconds between two instants, to the millisecond, never negative. */
export function elapsedSeconds(from: string, to: string): number {
  return Math.max(0, Date.parse(to) - Date.parse(from)) / 1000;
}
