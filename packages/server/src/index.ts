export { createApp } from './app.js';
export type { ApprovalService, OpenApprovalInput } from './approvals/index.js';
export {
  type AuditEventInput,
  recordAuditEvent,
  recordAuditEvents,
  verifyAuditExport,
} from './audit/index.js';
export { buildCatalog, type DispatchContract, resolveDispatchContract } from './catalog/index.js';
export { loadConfig, type ServerConfig } from './config.js';
export { ConfigError } from './core/config-error.js';
export type { ApiKeyPrincipal } from './core/principal.js';
export { authenticateApiKey, consumeEnrollmentKey, createApiKey } from './credentials/index.js';
export { openStorage, type Storage, type StorageTarget } from './db/database.js';
export { migrateToLatest } from './db/migrate.js';
export { findRunnerForDispatch, runnerRef } from './fleet/index.js';
export { mintBootstrapLink } from './members/index.js';
export {
  decidePolicy,
  type PolicyOutcome,
  type PolicyQuestion,
  type PolicyRules,
  validatePolicyRules,
} from './policy/index.js';
export { type RunningServer, startServer } from './server.js';
