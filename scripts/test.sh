#!/usr/bin/env bash
# npm test: installs and provisions everything itself, then type-checks, lints and runs every test
# against a real Temporal dev server, a real PostgreSQL and real SMTP servers on loopback.
set -euo pipefail
source "$(dirname "$0")/bootstrap.sh"
cd "$HERALD_ROOT"
mkdir -p .tmp
rm -f .tmp/jest-results.json

log "type-checking…"
npx tsc --noEmit -p .
log "linting…"
npx eslint . --max-warnings=0

log "running tests…"
status=0
npx jest --runInBand --json --outputFile=.tmp/jest-results.json "$@" || status=$?
node scripts/jest-summary.js .tmp/jest-results.json
exit "$status"
