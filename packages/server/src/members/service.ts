import { createInvitationService } from './invitations.js';
import type { MemberDeps } from './member-support.js';
import { createTeamService } from './team.js';

/** Team management: roles, access, suspension, removal and invitations. */
export function createMemberService(deps: MemberDeps) {
  return { ...createTeamService(deps), ...createInvitationService(deps) };
}

export type MemberService = ReturnType<typeof createMemberService>;
