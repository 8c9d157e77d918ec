import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Tooling (the CLI, dev, bench helpers) may use the product; the product never uses the tooling. */
const NO_SCRIPTS = {
  group: ['**/scripts/*', '**/scripts/**'],
  message:
    'Nothing the product runs imports scripts/: move what both need into common/ (or the layer that owns it).',
};

export default tseslint.config(
  {
    ignores: [
      'node_modules/**',
      'dist/**',
      '.tools/**',
      '.data/**',
      '.tmp/**',
      'coverage/**',
      '**/*.js',
      '**/*.mjs',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Workflows are replayed: no Node built-ins, no I/O, no direct activity implementations.
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['node:*', 'fs', 'path', 'crypto', 'http', 'https', 'net', 'os', 'child_process'],
              message: 'Workflows must be deterministic: do I/O in an activity.',
            },
            {
              group: ['pg', 'nodemailer', 'mjml', 'liquidjs', '../db/*', '../api/*', '../worker/*'],
              message: 'Workflows must not import side-effecting modules.',
            },
            NO_SCRIPTS,
          ],
        },
      ],
    },
  },
  {
    files: ['api/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['../workflows/*', '../../workflows/*'],
              message: 'The API talks to workflows through common/ definitions only.',
            },
            NO_SCRIPTS,
          ],
        },
      ],
    },
  },
  {
    files: ['worker/**/*.ts', 'activities/**/*.ts', 'common/**/*.ts', 'db/**/*.ts', 'templates/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [NO_SCRIPTS] }] },
  },
  {
    // One zod-parsed configuration per process: only the config modules read the environment,
    // and everything else gets its typed slice (e.g. the channels get ChannelSettings).
    files: [
      'api/**/*.ts',
      'worker/**/*.ts',
      'activities/**/*.ts',
      'common/**/*.ts',
      'db/**/*.ts',
      'templates/**/*.ts',
      'workflows/**/*.ts',
    ],
    ignores: ['api/config.ts', 'worker/config.ts'],
    rules: {
      'no-restricted-properties': [
        'error',
        {
          object: 'process',
          property: 'env',
          message:
            'Read settings from the process config (api/config.ts, worker/config.ts) and pass the slice down.',
        },
      ],
    },
  },
);
