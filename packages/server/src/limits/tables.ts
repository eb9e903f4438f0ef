import type { Timestamp } from '../core/columns.js';

/** One fixed-window counter per bucket (`<limit name>:<digest of the subject>`). */
export interface RateLimitCountersTable {
  bucket: string;
  window_started_at: Timestamp;
  hits: number;
}

export interface LimitTables {
  rate_limit_counters: RateLimitCountersTable;
}
