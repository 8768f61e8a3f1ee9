/** RFC 3339 in UTC with millisecond precision, the only time format on the wire. */
export function toRfc3339(date: Date): string {
  return date.toISOString();
}
