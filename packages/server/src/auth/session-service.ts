import { userActor } from '../core/actor.js';
import type { Clock } from '../core/clock.js';
import type { RequestContext } from '../core/context.js';
import { NotFoundError } from '../core/errors.js';
import type { SessionPrincipal } from '../core/principal.js';
import type { Db } from '../core/tx.js';
import type { PersonAudit } from './person-audit.js';
import { listSessions, revokeSessions } from './sessions.js';

export interface SessionServiceDeps {
  db: Db;
  clock: Clock;
  personAudit: Pick<PersonAudit, 'recordForPerson'>;
}

/** A person's own sessions: sign-out, the list, and revoking them. A factory of short methods. */
export function createSessionService(deps: SessionServiceDeps) {
  const { db, clock, personAudit } = deps;
  const actorOf = (session: SessionPrincipal) =>
    userActor({ id: session.userId, email: session.email });

  return {
    /** Ends one session (signing out, or replaced by a new sign-in in the same browser). */
    async end(session: Pick<SessionPrincipal, 'userId' | 'sessionId'>): Promise<void> {
      await revokeSessions(db, session.userId, clock, { only: session.sessionId });
    },

    async list(session: SessionPrincipal) {
      const sessions = await listSessions(db, session.userId, clock);
      return sessions.map((s) => ({ ...s, current: s.id === session.sessionId }));
    },

    async revoke(session: SessionPrincipal, id: string, context: RequestContext): Promise<void> {
      await db.transaction().execute(async (trx) => {
        const revoked = await revokeSessions(trx, session.userId, clock, { only: id });
        if (!revoked) throw new NotFoundError();
        await personAudit.recordForPerson(trx, session.userId, {
          eventType: 'user.session_revoked',
          actor: actorOf(session),
          payload: { session_id: id },
          context,
        });
      });
    },

    revokeOthers(session: SessionPrincipal, context: RequestContext): Promise<number> {
      return db.transaction().execute(async (trx) => {
        const count = await revokeSessions(trx, session.userId, clock, {
          except: session.sessionId,
        });
        await personAudit.recordForPerson(trx, session.userId, {
          eventType: 'user.session_revoked',
          actor: actorOf(session),
          payload: { other_sessions: count },
          context,
        });
        return count;
      });
    },
  };
}

export type SessionService = ReturnType<typeof createSessionService>;
