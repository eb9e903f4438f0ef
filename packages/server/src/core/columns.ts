import type { ColumnType } from 'kysely';

/** Timestamps are RFC 3339 UTC strings with microseconds on both backends. */
export type Timestamp = ColumnType<string, string | undefined, string>;
