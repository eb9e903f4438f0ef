// `npm start`: the zero-setup demo on one machine — the control plane on
// embedded PGlite at http://localhost:8080, data in ./.emisar/data.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const serverBin = fileURLToPath(new URL('../packages/server/dist/main.js', import.meta.url));

const server = spawn(process.execPath, [serverBin, 'start'], {
  stdio: 'inherit',
  env: { LOG_LEVEL: 'info', ...process.env },
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => server.kill(signal));
}
server.on('exit', (code, signal) => {
  process.exit(code ?? (signal ? 1 : 0));
});
