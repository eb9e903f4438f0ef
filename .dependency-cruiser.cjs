/**
 * The import rules `npm run check` enforces. docs/architecture.md explains the
 * layers and why; this file is the single source of the domain order.
 */

const SERVER = '^packages/server/src';

/** Server domains, lowest first: each may import only those before it. */
const DOMAINS = [
  'billing',
  'accounts',
  'audit',
  'mail',
  'auth',
  'members',
  'credentials',
  'access',
  'catalog',
  'fleet',
  'policy',
  'approvals',
  'runs',
  'mcp',
];
/** Infrastructure below every domain: it imports the kernel and each other, never a domain. */
const INFRASTRUCTURE = ['http', 'bus', 'jobs', 'limits'];
/** What sits above every domain: the composition root and the entry points. */
const ENTRY = `${SERVER}/(app|http-app|server|main|config|index|account-data)\\.ts$|${SERVER}/cli/`;
const TESTS = '\\.test\\.ts$|/test-support/';

const any = (names) => `${SERVER}/(${names.join('|')})/`;

const domainOrder = DOMAINS.map((domain, index) => {
  const higher = DOMAINS.slice(index + 1);
  return higher.length === 0
    ? null
    : {
        name: `domain-order-${domain}`,
        comment: `${domain}/ may import only domains below it (${DOMAINS.slice(0, index).join(', ') || 'none'}); an upward need is a port that app.ts wires.`,
        severity: 'error',
        from: { path: `${SERVER}/${domain}/`, pathNot: TESTS },
        to: { path: any(higher) },
      };
}).filter(Boolean);

module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      comment: 'No import cycles in any package.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'domain-through-index',
      comment:
        'A server domain (and every entry point) imports a domain only through its index.ts (its public face); tests may reach further.',
      severity: 'error',
      // db/schema.ts and tables.ts files compose column types (rules below keep them type-only).
      from: {
        path: `${SERVER}/([^/]+)/`,
        pathNot: [TESTS, `${SERVER}/db/schema\\.ts$`, '/tables\\.ts$'],
      },
      to: {
        path: `${SERVER}/(${DOMAINS.join('|')})/`,
        pathNot: [`${SERVER}/$1/`, `${SERVER}/(${DOMAINS.join('|')})/index\\.ts$`],
      },
    },
    ...domainOrder,
    {
      name: 'kernel-imports-no-domain',
      comment:
        "core/ and db/ sit below everything: no domain, infrastructure or entry point (db/schema.ts composes the domains' tables.ts, types only).",
      severity: 'error',
      from: { path: `${SERVER}/(core|db)/`, pathNot: TESTS },
      to: {
        path: [any([...DOMAINS, ...INFRASTRUCTURE]), ENTRY],
        pathNot: `${SERVER}/(${[...DOMAINS, 'limits'].join('|')})/tables\\.ts$`,
      },
    },
    {
      name: 'only-schema-reads-tables',
      comment:
        "Of the kernel, only db/schema.ts may import a domain's tables.ts, and only its types.",
      severity: 'error',
      from: { path: `${SERVER}/(core|db)/`, pathNot: [`${SERVER}/db/schema\\.ts$`, TESTS] },
      to: { path: '/tables\\.ts$' },
    },
    {
      name: 'tables-are-types',
      comment:
        "A domain's tables.ts holds column types only: it imports core/, other tables.ts and its own domain's types, so db/schema.ts can compose them without a cycle.",
      severity: 'error',
      from: { path: `${SERVER}/([^/]+)/tables\\.ts$` },
      to: {
        path: SERVER,
        pathNot: [`${SERVER}/core/`, `${SERVER}/[^/]+/tables\\.ts$`, `${SERVER}/$1/`],
      },
    },
    {
      name: 'infrastructure-imports-no-domain',
      comment:
        'http/, bus/, jobs/ and limits/ serve every domain; what they need from one is passed in by app.ts.',
      severity: 'error',
      from: { path: any(INFRASTRUCTURE), pathNot: TESTS },
      to: { path: [any(DOMAINS), ENTRY] },
    },
    {
      name: 'domains-import-no-entry-point',
      comment:
        'Domains take plain values and ports; they never import app.ts, server.ts, main.ts, config.ts or cli/.',
      severity: 'error',
      from: { path: any(DOMAINS), pathNot: TESTS },
      to: { path: ENTRY },
    },
    {
      name: 'routes-use-services',
      comment: 'Route files call services; they never import the database module.',
      severity: 'error',
      from: { path: `${SERVER}/.*(/routes|-routes)\\.ts$` },
      to: { path: `${SERVER}/db/` },
    },
    {
      name: 'packages-never-import-the-server',
      comment:
        'runner, packs and protocol stand alone: the server depends on them, never the reverse.',
      severity: 'error',
      from: { path: '^packages/(runner|packs|protocol)/' },
      to: { path: '^packages/server/' },
    },
    {
      name: 'protocol-imports-no-package',
      comment: 'protocol is the bottom package: packs, runner and server build on it.',
      severity: 'error',
      from: { path: '^packages/protocol/' },
      to: { path: '^packages/(packs|runner|server|console|mcp-bridge)/' },
    },
    {
      name: 'packs-imports-only-protocol',
      comment: 'packs builds on protocol alone.',
      severity: 'error',
      from: { path: '^packages/packs/' },
      to: { path: '^packages/(runner|server|console|mcp-bridge)/' },
    },
    {
      name: 'clients-import-protocol-level-only',
      comment:
        'The console and the MCP bridge talk to the server over the network: protocol-level packages only.',
      severity: 'error',
      from: { path: '^packages/(console|mcp-bridge)/' },
      to: { path: '^packages/(server|runner|packs)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(dist|node_modules)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      conditionNames: ['@emisar/source', 'import', 'types', 'default'],
      extensions: ['.ts', '.js'],
      mainFields: ['module', 'main', 'types'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
