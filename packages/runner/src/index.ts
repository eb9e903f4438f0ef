export { type Admission, compileAdmission, RISKS, type Risk } from './config/admission.js';
export {
  ConfigError,
  loadRunnerConfig,
  parseRunnerConfig,
  type RunnerConfig,
} from './config/config.js';
export { type DaemonExit, daemonControls, runDaemon } from './daemon.js';
export { type EngineDeps, type EngineResult, type RunRequest, runAction } from './engine/engine.js';
export { loadRegistry, type Registry } from './engine/registry.js';
export { buildRunnerState } from './engine/state.js';
export { Journal, JournalError, type JournalEvent } from './journal/journal.js';
export { type VerifyReport, verifyJournalFile } from './journal/verify.js';
export { detectIsolation, engineDeps, openJournal } from './runtime.js';
export { dispatchDigest } from './session/dispatch-checks.js';
export { type DispatchEntry, DispatchLog, DispatchLogError } from './state/dispatch-log.js';
