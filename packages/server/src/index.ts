export { mintBootstrapLink } from './accounts/bootstrap.js';
export { createApp } from './app.js';
export type { ApprovalService, OpenApprovalInput } from './approvals/service.js';
export {
  type AuditEventInput,
  recordAuditEvent,
  recordAuditEvents,
} from './audit/record.js';
export { verifyAuditExport } from './audit/verify.js';
export { buildCatalog } from './catalog/build.js';
export { type DispatchContract, resolveDispatchContract } from './catalog/dispatch-contract.js';
export { loadConfig, type ServerConfig } from './config.js';
export { ConfigError } from './core/config-error.js';
export type { ApiKeyPrincipal } from './core/principal.js';
export { authenticateApiKey, createApiKey } from './credentials/api-keys.js';
export { consumeEnrollmentKey } from './credentials/enrollment-keys.js';
export { openStorage, type Storage, type StorageTarget } from './db/database.js';
export { migrateToLatest } from './db/migrate.js';
export { findRunnerForDispatch, runnerRef } from './fleet/queries.js';
export { decidePolicy, type PolicyOutcome, type PolicyQuestion } from './policy/decide.js';
export { type PolicyRules, validatePolicyRules } from './policy/rules.js';
export { type RunningServer, startServer } from './server.js';
