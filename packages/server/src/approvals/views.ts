import type { Selectable } from 'kysely';
import { z } from 'zod';
import { keysetCursorSchema } from '../core/keyset-cursor.js';
import type { ApprovalRequestsTable } from './tables.js';

export const listSchema = z.object({
  status: z.enum(['pending', 'approved', 'denied', 'expired', 'cancelled']).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(50),
  cursor: keysetCursorSchema.optional(),
});

export function approvalView(
  request: Selectable<ApprovalRequestsTable>,
  extra: {
    votes: {
      user_id: string;
      email: string;
      decision: string;
      note: string | null;
      created_at: string;
    }[];
    requester: string | null;
    canDecide: boolean;
  },
) {
  return {
    id: request.id,
    run_id: request.run_id,
    status: request.status,
    status_reason: request.status_reason,
    action_id: request.action_id,
    runner_id: request.runner_id,
    runner_group: request.runner_group,
    pack_ref: request.pack_ref,
    risk: request.risk,
    reason: request.reason,
    evidence: request.evidence,
    expected: request.expected,
    args_redacted: request.args_redacted,
    args_sha256: request.args_sha256,
    requested_by: { user_id: request.requested_by_user_id, email: extra.requester },
    api_key_id: request.api_key_id,
    min_approvals: request.min_approvals,
    allow_self_approval: request.allow_self_approval,
    approvals: extra.votes.filter((v) => v.decision === 'approve').length,
    votes: extra.votes.map((v) => ({
      user_id: v.user_id,
      email: v.email,
      decision: v.decision,
      note: v.note,
      at: v.created_at,
    })),
    can_decide: extra.canDecide,
    expires_at: request.expires_at,
    created_at: request.created_at,
    decided_at: request.decided_at,
    decided_by_user_id: request.decided_by_user_id,
    decision_note: request.decision_note,
  };
}
