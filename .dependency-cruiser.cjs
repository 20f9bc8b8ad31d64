// The dependency rule CI enforces (`npm run deps`): no import cycles, layers that point one way, vendor
// code only through the connector registry, and no module reading another module's tables. Specs are
// left out: nothing imports them, so they close no cycle, and a test may reach anything it tests.
//
// Layers, lowest first (a layer imports only from layers before it):
//   common → config → db → events → auth, context (each other) → platform → modules → jobs, training → server → main.ts
// `connectors/` (vendor adapters) sits beside them: src reaches it only through connectors/registry.ts and
// connectors/_shared, and it imports nothing from src.
//
// `npm run deps` runs this file's rules (file by file) and then scripts/module-cycles.js, which folds the
// same graph into components (a module, a layer, a vendor folder) and fails on a cycle between them: the
// cycles that matter here are between modules (inference -> endpoints -> inference), not between files.

/** Escapes a path for a regular expression that matches exactly it. */
const exactly = (file) => `^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`;
const anyOf = (files) => files.map(exactly).join('|');

const SRC_LAYER = {
  common: '^src/common/',
  config: '^src/config/',
  db: '^src/db/',
  events: '^src/events/',
  auth: '^src/auth/',
  context: '^src/context/',
  platform: '^src/platform/',
  modules: '^src/modules/',
  jobs: '^src/jobs/',
  training: '^src/training/',
  server: '^src/server/',
  main: '^src/main\\.ts$',
};

/** Each layer and the src layers it may import from (itself included). */
const ALLOWED = {
  common: ['common'],
  config: ['common', 'config'],
  db: ['common', 'config', 'db'],
  events: ['common', 'config', 'db', 'events'],
  auth: ['common', 'config', 'db', 'events', 'auth', 'context'],
  context: ['common', 'config', 'db', 'events', 'auth', 'context'],
  platform: ['common', 'config', 'db', 'events', 'auth', 'context', 'platform'],
  modules: ['common', 'config', 'db', 'events', 'auth', 'context', 'platform', 'modules'],
  jobs: ['common', 'config', 'db', 'events', 'auth', 'context', 'platform', 'modules', 'jobs'],
  training: ['common', 'config', 'db', 'events', 'auth', 'context', 'platform', 'modules', 'training'],
  server: Object.keys(SRC_LAYER).filter((layer) => layer !== 'main'),
};

/**
 * Imports that break a rule by design, for good. `src/db/data-source.ts` builds the one DataSource
 * (app, CLI, tests) from `src/db/entities.ts`, the list of every entity: the two reach up to entity
 * files wherever they live, and nothing below the server imports them.
 */
const BY_DESIGN = {
  entityRegistry: { from: anyOf(['src/db/data-source.ts', 'src/db/entities.ts']), to: '\\.entity\\.ts$' },
  /**
   * Resolvers are built by src/server/schema.ts with the process's `Services` (a type) and find them
   * from a subscription through `servicesOf(info.schema)`: every resolver imports those two server files.
   * They go when resolvers get their services another way (the request context, per-module interfaces).
   */
  resolverServices: {
    from: '\\.resolver\\.ts$',
    to: anyOf(['src/server/services.ts', 'src/server/schema-services.ts']),
  },
};

/**
 * TEMPORARY: imports that break a rule in files other engineers are rewriting now. Each is reported as a
 * warning (CI passes) and only for the imports named: anything else these files import is held to the
 * rules. Remove an entry when its file is refactored; `npm run deps` fails on an entry that no longer
 * matches anything, so the list cannot outlive its reasons.
 */
const TEMPORARY = [
  // { rule, from, to, why }: an import the rule would refuse, allowed while the code moves (a warning).
];

/** A rule, with its temporary exceptions split out: each excepted import a warning, the rest errors. */
function rule({ name, comment, from, to }) {
  const excepted = new Map();
  for (const e of TEMPORARY.filter((t) => t.rule === name))
    excepted.set(e.from, [...(excepted.get(e.from) ?? []), e]);
  const either = (...alternatives) => alternatives.filter(Boolean).join('|') || undefined;
  return [
    {
      name,
      comment,
      severity: 'error',
      from: { ...from, pathNot: either(from.pathNot, ...[...excepted.keys()].map(exactly)) },
      to,
    },
    ...[...excepted].flatMap(([file, entries]) => {
      const targets = entries.map((e) => `(${e.to})`).join('|');
      // A lookahead keeps the rule's own pattern (and its capture groups, which `to` may refer to).
      const only = from.path ? `(?=${exactly(file)})${from.path}` : exactly(file);
      return [
        // Everything else the file imports is held to the rule.
        {
          name,
          comment,
          severity: 'error',
          from: { ...from, path: only },
          to: { ...to, pathNot: either(to.pathNot, targets) },
        },
        {
          name: `${name} (temporary)`,
          comment: entries.map((e) => e.why).join(' '),
          severity: 'warn',
          from: { ...from, path: only },
          to: { ...to, path: to.path ? `(?=${targets})${to.path}` : targets },
        },
      ];
    }),
  ];
}

const layerRules = Object.entries(ALLOWED).flatMap(([layer, allowed]) =>
  rule({
    name: `layer-${layer}`,
    comment: `src/${layer} imports from ${allowed.join(', ')} only`,
    from: {
      path: SRC_LAYER[layer],
      pathNot:
        layer === 'db'
          ? BY_DESIGN.entityRegistry.from
          : layer === 'modules'
            ? BY_DESIGN.resolverServices.from
            : undefined,
    },
    to: { path: '^src/', pathNot: allowed.map((l) => SRC_LAYER[l]).join('|') },
  }),
);

module.exports = {
  forbidden: [
    ...rule({
      name: 'no-circular',
      comment: 'Files import one another in one direction only (type-only imports count: they couple too).',
      from: {},
      to: { circular: true },
    }),
    ...layerRules,
    // The two by-design reaches, held to exactly what they are for.
    {
      name: 'layer-db',
      comment: 'the entity registry reaches entity files only',
      severity: 'error',
      from: { path: BY_DESIGN.entityRegistry.from },
      to: {
        path: '^src/',
        pathNot: `${ALLOWED.db.map((l) => SRC_LAYER[l]).join('|')}|${BY_DESIGN.entityRegistry.to}`,
      },
    },
    {
      name: 'layer-modules',
      comment: 'a resolver reaches the server for its Services only',
      severity: 'error',
      from: { path: `${SRC_LAYER.modules}.*${BY_DESIGN.resolverServices.from}` },
      to: { path: '^src/(server|jobs|training)/|^src/main\\.ts$', pathNot: BY_DESIGN.resolverServices.to },
    },
    {
      name: 'src-to-vendor',
      comment: 'src reaches vendor code only through connectors/registry.ts and connectors/_shared',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^connectors/', pathNot: '^connectors/(registry\\.ts$|_shared/)' },
    },
    {
      name: 'connectors-self-contained',
      comment: 'vendor adapters import nothing from src',
      severity: 'error',
      from: { path: '^connectors/' },
      to: { path: '^src/' },
    },
    {
      name: 'vendor-to-vendor',
      comment: 'a vendor folder imports its own files and connectors/_shared only',
      severity: 'error',
      from: { path: '^connectors/([^/]+)/' },
      to: { path: '^connectors/', pathNot: '^connectors/($1|_shared)/' },
    },
    ...rule({
      name: 'no-foreign-entity',
      comment:
        "A module reaches another module's tables through that module's service or repository, not its " +
        'entity classes. Entity files may (relations), and so may resolvers and *.types.ts (GraphQL object ' +
        'types, no table access); type-only imports carry no access.',
      from: { path: '^src/modules/([^/]+)/', pathNot: '\\.(entity|resolver|types)\\.ts$' },
      to: {
        path: '^src/modules/[^/]+/[^/]+\\.entity\\.ts$',
        pathNot: '^src/modules/$1/',
        dependencyTypesNot: ['type-only'],
      },
    }),
  ],
  options: {
    includeOnly: '^(src|connectors)/',
    exclude: { path: '\\.spec\\.ts$' },
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.json'] },
  },
};

// Read by scripts/module-cycles.js; not enumerable, as dependency-cruiser refuses keys it does not know.
Object.defineProperty(module.exports, 'moduleCycles', {
  enumerable: false,
  value: {
    /**
     * A file belongs to the first component whose pattern matches it, named by the match (or by the name
     * given), else to a component of its own.
     */
    components: [
      // Resolvers wire a module to the API: only src/server/schema.ts imports them, so each is the top
      // of its module and closes no cycle through it.
      '^src/modules/[^/]+/.*\\.resolver\\.ts$',
      '^src/db/(data-source|entities)\\.ts$',
      // The request context carries the CASL ability; the auth checker reads the context.
      ['^src/(auth|context)/', 'src/auth+context'],
      '^src/modules/[^/]+',
      '^src/[^/]+(?=/)',
      '^connectors/[^/]+(?=/)',
    ],
    /** Edges left out of the component graph: `from`/`to` match file paths. */
    ignore: [
      { ...BY_DESIGN.resolverServices, why: 'by design, see BY_DESIGN.resolverServices' },
      ...TEMPORARY.filter((e) => e.rule === 'module-cycle').map((e) => ({
        ...e,
        from: exactly(e.from),
        temporary: e,
      })),
    ],
    temporary: TEMPORARY,
  },
});
