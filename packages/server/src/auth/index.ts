// The auth domain's face: other domains and the composition root import only this.
export { identityCleanupJob } from './cleanup.js';
export { registerLinkPages } from './link-pages.js';
export { registerMeRoutes } from './me-routes.js';
export { createTotpBox } from './mfa.js';
export { registerMfaRoutes } from './mfa-routes.js';
export { createMfaService } from './mfa-service.js';
export { registerPasskeyRoutes } from './passkey-routes.js';
export { createPasskeyService } from './passkeys.js';
export { createPasswordService } from './password.js';
export type { PersonAudit, PersonEvent } from './person-audit.js';
export { createProfileService } from './profile.js';
export type { AuthQueries } from './queries.js';
export { authQueries } from './queries.js';
export type { SignInBudget } from './rate-limits.js';
export { signInBudget } from './rate-limits.js';
export { registerAuthRoutes } from './routes.js';
export { registerSessionRoutes } from './session-routes.js';
export { createSessionService } from './session-service.js';
export { isSessionLive, recentlyAuthenticated, resolveSession } from './sessions.js';
export type { SignInResult, SignInService } from './sign-in.js';
export { createSignInService } from './sign-in.js';
export { signInFailureAuditJob } from './sign-in-failures.js';
export { mintUserToken } from './user-tokens.js';
export { emailSchema, findOrCreateUser, findUserByEmail, findUserById } from './users.js';
export type {
  CreateWorkspace,
  ListWorkspaces,
  PersonWorkspace,
  WorkspaceRequest,
} from './workspaces.js';
