import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', '.nerve/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    // Decorated signatures need value imports for their metadata; the rule knows this from these flags.
    languageOptions: { parserOptions: { emitDecoratorMetadata: true, experimentalDecorators: true } },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Its depth is unbounded: src/common/json-scalar.ts is the one every JSON argument uses.
      'no-restricted-imports': [
        'error',
        {
          paths: [
            {
              name: 'graphql-scalars',
              importNames: ['GraphQLJSONObject', 'GraphQLJSON', 'JSONObjectResolver', 'JSONResolver'],
              message: 'use GraphQLJSONObject from src/common/json-scalar (depth-bounded)',
            },
          ],
        },
      ],
    },
  },
  { files: ['src/common/json-scalar.ts'], rules: { 'no-restricted-imports': 'off' } },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: {
      globals: {
        require: 'readonly',
        module: 'writable',
        process: 'readonly',
        __dirname: 'readonly',
        console: 'readonly',
      },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
