import { removeSecondFactors } from './mfa.js';
import { isSessionLive, revokeSessions } from './sessions.js';
import {
  findOrCreateUser,
  findUserByEmail,
  findUserById,
  markUserConfirmed,
  usersByIds,
} from './users.js';

/** What other domains read and change of people and their sign-in material. */
export const authQueries = {
  findUserById,
  findUserByEmail,
  findOrCreateUser,
  usersByIds,
  markUserConfirmed,
  isSessionLive,
  revokeSessions,
  removeSecondFactors,
};
export type AuthQueries = typeof authQueries;
