// The mail domain's face: other domains and the composition root import only this.
export type { ApprovalMailMessage } from './approval-mail.js';
export type { MailConfig } from './config.js';
export { parseMailConfig } from './config.js';
export { registerDevMailboxRoutes } from './dev-mailbox-routes.js';
export type { MailOutbox } from './outbox.js';
export { createMailOutbox } from './outbox.js';
export { accountTables } from './tables.js';
export { createMailTransport } from './transports.js';
