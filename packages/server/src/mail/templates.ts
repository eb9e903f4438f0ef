import { type ApprovalMailMessage, renderApprovalMail } from './approval-mail.js';

/** The transactional messages of the identity domain. Plain text always. */
export type MailMessage =
  | ApprovalMailMessage
  | { template: 'sign_in_code'; code: string; link: string }
  | { template: 'confirm_email'; link: string }
  | { template: 'password_reset'; link: string }
  | { template: 'no_account'; asked: 'sign_in' | 'password_reset'; signUpLink: string }
  | { template: 'invitation'; inviter: string; workspace: string; role: string; link: string };

export interface RenderedMail {
  subject: string;
  text: string;
}

const FOOTER = '\n\n— emisar\nIf you did not expect this message, you can ignore it.';

export function renderMail(message: MailMessage): RenderedMail {
  switch (message.template) {
    case 'approval_needed':
    case 'approval_outcome':
      return renderApprovalMail(message);
    case 'sign_in_code':
      return {
        // The code stays out of the subject: subjects are stored in the clear in the outbox.
        subject: 'Your emisar sign-in code',
        text:
          `Your sign-in code is ${message.code}\n\n` +
          `Enter it in the browser where you asked to sign in, or open:\n${message.link}\n\n` +
          `It works for 15 minutes, once, and only in that browser.${FOOTER}`,
      };
    case 'confirm_email':
      return {
        subject: 'Confirm your email address for emisar',
        text: `Confirm your email address by opening this link (valid for 7 days):\n${message.link}${FOOTER}`,
      };
    case 'password_reset':
      return {
        subject: 'Reset your emisar password',
        text:
          `Someone asked to reset the password of your emisar account.\n` +
          `Choose a new password here (valid for 30 minutes, once):\n${message.link}\n\n` +
          `Resetting signs out your other sessions.${FOOTER}`,
      };
    case 'no_account':
      return {
        subject:
          message.asked === 'sign_in' ? 'Signing in to emisar' : 'Resetting an emisar password',
        text:
          `Someone asked to ${message.asked === 'sign_in' ? 'sign in to emisar' : 'reset the emisar password'} ` +
          `with this email address, but no emisar account uses it.\n\n` +
          `To create one, sign up here:\n${message.signUpLink}\n\n` +
          `If you have an account under another address, use that one.${FOOTER}`,
      };
    case 'invitation':
      return {
        subject: `${message.inviter} invited you to ${message.workspace} on emisar`,
        text:
          `${message.inviter} invited you to join the workspace "${message.workspace}" as ${message.role}.\n` +
          `Accept the invitation (valid for 7 days):\n${message.link}${FOOTER}`,
      };
  }
}
