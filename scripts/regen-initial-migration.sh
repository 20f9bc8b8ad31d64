#!/usr/bin/env bash
# Before the first landing only: regenerates the single Initial migration from the entities.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -f migrations/*-Initial.ts
echo 'export const migrations: Array<new () => unknown> = [];' > migrations/index.ts
npm run -s migration:generate -- Initial
