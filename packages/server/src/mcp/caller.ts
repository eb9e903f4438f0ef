import type { JsonValue } from '@emisar/protocol';
import type { AccountAccess } from '../core/access.js';
import type { RequestContext } from '../core/context.js';
import type { ClientInfo } from '../runs/index.js';

/** Who is calling a tool: the key's member, the key's lineage, and the client it says it is. */
export interface McpCaller {
  access: AccountAccess;
  context: RequestContext;
  keyId: string;
  /** Rotation keeps the lineage: idempotency, operations and waits are per lineage. */
  lineageId: string;
  clientInfo: ClientInfo | null;
  /** `Emisar-Operation-Id`, when the client (the bridge) sent one. */
  operationIdHeader: string | undefined;
  /** A `tools/call`'s arguments as strictly parsed, numbers exact (the SDK sees float64 ones). */
  exactArguments: JsonValue | undefined;
}
