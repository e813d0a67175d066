// Lint configuration: typescript-eslint recommended rules on every TypeScript source, and the
// import rules that keep the layering (written down like Kubernetes'
// staging/publishing/import-restrictions.yaml, checked by `no-restricted-imports` per folder):
//
//   core/        imports only core/ (and npm packages); its model, validation, templates and
//                planner import no Node built-in (the console runs them in the browser)
//   client/      imports only core/model/
//   history/     core/ and kube/; not apiserver/, cli/, client/ or another wing
//   controller/  core/ and kube/; not apiserver/, cli/, client/ or another wing
//   admission/   core/ and kube/; not apiserver/, cli/, client/ or another wing
//   kube/        core/; the wings' interfaces it implements as type-only imports; not apiserver/ or cli/
//   adapters/    core/ only
//   apiserver/   core/, the wings and the adapters; not cli/
//   cli/         everything but apiserver/; cli/server.ts reaches apiserver/ only by `await import()`
//   nothing imports cli/ (except bin/ and tests)
//
// Tests may also import what they wire together (core tests use the real HTTP client in adapters/).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const up = (folder) => `**/${folder}/**`;
const noImport = (folders, message, allowTypeImports = false) =>
  folders.map((folder) => ({ group: [up(folder)], message: `${message} (${folder}/)`, allowTypeImports }));
const WINGS = ['history', 'controller', 'admission', 'kube', 'adapters'];
const TESTS = ['**/*.test.ts', '**/testdata/**'];
/** `files` blocks: each folder's forbidden imports (see the table above). */
const importRules = [
  {
    files: ['core/**/*.ts'],
    ignores: TESTS,
    patterns: noImport(['apiserver', 'cli', 'client', ...WINGS], 'core imports only core'),
  },
  {
    files: ['core/**/*.test.ts', 'core/**/testdata/**/*.ts'],
    patterns: noImport(
      ['apiserver', 'cli', 'client', 'history', 'controller', 'admission', 'kube'],
      'core tests import core and adapters only',
    ),
  },
  {
    files: ['core/model/**/*.ts', 'core/validation/**/*.ts', 'core/template/**/*.ts', 'core/plan/**/*.ts'],
    ignores: TESTS,
    patterns: [
      ...noImport(['apiserver', 'cli', 'client', ...WINGS], 'core imports only core'),
      {
        group: ['node:*'],
        message: 'core model, validation, templates and planner run in the browser too: no Node built-ins',
      },
    ],
  },
  {
    files: ['client/**/*.ts'],
    patterns: [
      { regex: '(^|/)core/(?!model/)', message: 'the client imports only core/model' },
      ...noImport(['apiserver', 'cli', ...WINGS], 'the client imports only core/model'),
    ],
  },
  ...['history', 'controller', 'admission'].map((wing) => ({
    files: [`${wing}/**/*.ts`],
    ignores: TESTS,
    patterns: noImport(
      ['apiserver', 'cli', 'client', ...WINGS.filter((w) => w !== wing && w !== 'kube')],
      `${wing}/ imports core and the kube adapters, not apiserver, cli or another wing`,
    ),
  })),
  {
    files: ['kube/**/*.ts'],
    ignores: TESTS,
    patterns: [
      ...noImport(['apiserver', 'cli', 'client', 'adapters'], 'kube/ imports core only'),
      ...noImport(
        ['history', 'controller', 'admission'],
        'kube/ implements wing interfaces: type-only imports',
        true,
      ),
    ],
  },
  {
    files: ['adapters/**/*.ts'],
    ignores: TESTS,
    patterns: noImport(
      ['apiserver', 'cli', 'client', 'history', 'controller', 'admission', 'kube'],
      'adapters/ imports core only',
    ),
  },
  {
    files: ['apiserver/**/*.ts', 'examples/**/*.ts', 'hack/**/*.ts', 'bench/**/*.ts'],
    patterns: noImport(['cli'], 'nothing imports the CLI'),
  },
  {
    files: ['cli/**/*.ts'],
    ignores: ['cli/server.ts', ...TESTS],
    patterns: noImport(['apiserver'], 'the CLI reaches apiserver only through cli/server.ts'),
  },
  {
    // Type-only imports are erased; a value import would load the server on every command.
    files: ['cli/server.ts'],
    patterns: noImport(['apiserver'], 'cli/server.ts loads apiserver lazily: use await import()', true),
  },
].map(({ files, ignores, patterns }) => ({
  files,
  ...(ignores ? { ignores } : {}),
  rules: { 'no-restricted-imports': ['error', { patterns }] },
}));

export default tseslint.config(
  {
    ignores: [
      'node_modules/**',
      'dist/**',
      'coverage/**',
      '.cache/**',
      'hack/controlplane/**',
      'test/clientgo/**',
      // The console's build output (its sources are linted as TypeScript like the rest).
      'console/dist/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        URL: 'readonly',
        require: 'readonly',
        module: 'writable',
      },
    },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  ...importRules,
  {
    // cli/ modules other than server.ts may not load apiserver lazily either.
    files: ['cli/**/*.ts'],
    ignores: ['cli/server.ts', '**/*.test.ts', '**/testdata/**'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: 'ImportExpression[source.value=/apiserver\\//]',
          message: 'only cli/server.ts reaches apiserver',
        },
      ],
    },
  },
);
