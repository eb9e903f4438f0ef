// The mcp domain's face: the composition root imports only this.

export { createCursors } from './cursor.js';
export { createClientRegistry } from './endpoint.js';
export { resolveKeyAccess } from './key-access.js';
export { registerMcpRoutes } from './routes.js';
export { createMcpTools } from './tools.js';
