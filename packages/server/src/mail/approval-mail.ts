/** The approval messages (plain text), rendered through templates.ts. */
export type ApprovalMailMessage =
  | {
      template: 'approval_needed';
      workspace: string;
      requester: string;
      actionId: string;
      runner: string;
      risk: string | null;
      reason: string;
      evidence: string | null;
      expected: string | null;
      /** The redacted argument form: sensitive values are already masked. */
      argsRedacted: string | null;
      minApprovals: number;
      expiresAt: string;
      link: string;
    }
  | {
      template: 'approval_outcome';
      workspace: string;
      actionId: string;
      runner: string;
      /** refused: approved, then refused by the re-checks at release. */
      outcome: 'approved' | 'denied' | 'refused' | 'expired';
      /** Who decided (approved/denied), absent for an expiry. */
      decidedBy: string | null;
      /** Why the re-check at release refused it (outcome `refused`). */
      statusReason: string | null;
      note: string | null;
      link: string;
    };

const FOOTER = '\n\n— emisar\nYou receive this because of your role in this workspace.';
const MAX_ARGS_TEXT = 4000;

export function renderApprovalMail(message: ApprovalMailMessage): {
  subject: string;
  text: string;
} {
  if (message.template === 'approval_needed') {
    const lines = [
      `${message.requester} asks to run ${message.actionId} on ${message.runner} in "${message.workspace}".`,
      '',
      `Risk: ${message.risk ?? 'unknown'}`,
      `Reason: ${message.reason}`,
      ...(message.evidence ? [`Evidence: ${message.evidence}`] : []),
      ...(message.expected ? [`Expected: ${message.expected}`] : []),
      ...(message.argsRedacted !== null
        ? [`Arguments (sensitive values masked): ${clip(message.argsRedacted)}`]
        : []),
      '',
      message.minApprovals > 1
        ? `It needs ${message.minApprovals} approvals. One deny ends it.`
        : 'One approval releases it; one deny ends it.',
      `It expires at ${message.expiresAt}.`,
      '',
      `Review it and decide in the console (you may be asked to sign in again first):`,
      message.link,
    ];
    return {
      subject: `Approval needed: ${message.actionId} on ${message.runner}`,
      text: lines.join('\n') + FOOTER,
    };
  }
  const by = message.decidedBy ? ` by ${message.decidedBy}` : '';
  const verdict = {
    approved: `was approved${by}; the run is on its way to the runner`,
    denied: `was denied${by}; the run was not executed`,
    refused: `was approved${by}, but the re-check at release refused it (${message.statusReason ?? 'refused'}); the run was not executed`,
    expired: 'expired without a decision; the run was not executed',
  }[message.outcome];
  const lines = [
    `Your request to run ${message.actionId} on ${message.runner} in "${message.workspace}" ${verdict}.`,
    ...(message.note ? ['', `Note: ${message.note}`] : []),
    '',
    message.link,
  ];
  return {
    subject: `Request ${message.outcome}: ${message.actionId} on ${message.runner}`,
    text: lines.join('\n') + FOOTER,
  };
}

function clip(text: string): string {
  return text.length <= MAX_ARGS_TEXT ? text : `${text.slice(0, MAX_ARGS_TEXT)}… (truncated)`;
}
