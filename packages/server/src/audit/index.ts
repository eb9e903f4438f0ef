// The audit domain's face: other domains and the composition root import only this.
export { listAuditCheckpoints } from './checkpoints.js';
export { registerAuditCommands } from './cli.js';
export type { AuditConfig } from './config.js';
export { parseAuditConfig } from './config.js';
export { createAuditExportService } from './export.js';
export type { AuditEventInput } from './record.js';
export { recordAuditEvent, recordAuditEvents } from './record.js';
export { registerAuditRoutes } from './routes.js';
export { auditJobs } from './scheduler.js';
export { accountTables } from './tables.js';
export { verifyAuditExport } from './verify.js';
