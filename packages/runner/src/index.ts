export { type Admission, compileAdmission, RISKS, type Risk } from './config/admission.js';
export {
  ConfigError,
  loadRunnerConfig,
  parseRunnerConfig,
  type RunnerConfig,
} from './config/config.js';
