import type { RequestContext } from '../core/context.js';
import type { Tx } from '../core/tx.js';

export interface WorkspaceRequest {
  name: string;
  /** Derived from the name when absent. */
  slug?: string;
  owner: { id: string; email: string };
}

/**
 * Creates a workspace owned by a person (a verified sign-up asks for one).
 * Workspaces live above auth: members implements this, app.ts passes it in.
 */
export type CreateWorkspace = (
  trx: Tx,
  input: WorkspaceRequest,
  context: RequestContext,
) => Promise<{ account: { slug: string } }>;

export interface PersonWorkspace {
  slug: string;
  name: string;
  role: string;
  suspended_at: string | null;
}

/** The live workspaces a person has joined, by name (members implements it). */
export type ListWorkspaces = (userId: string) => Promise<PersonWorkspace[]>;
