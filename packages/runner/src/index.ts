export { type Admission, compileAdmission, RISKS, type Risk } from './config/admission.js';
export {
  ConfigError,
  loadRunnerConfig,
  parseRunnerConfig,
  type RunnerConfig,
} from './config/config.js';
export { Journal, JournalError, type JournalEvent } from './journal/journal.js';
export { type VerifyReport, verifyJournalFile } from './journal/verify.js';
export { type DispatchEntry, DispatchLog, DispatchLogError } from './state/dispatch-log.js';
