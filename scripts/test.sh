#!/usr/bin/env bash
# npm test: installs and provisions everything itself, then type-checks, lints and runs every test
# against a real Temporal dev server, a real PostgreSQL and real SMTP servers on loopback.
set -euo pipefail
source "$(dirname "$0")/bootstrap.sh"
ensure_temporal_server
cd "$HERALD_ROOT"
mkdir -p .tmp
rm -f .tmp/jest-results.json

# The browser tests drive a real Chromium; install Debian's when it is missing and we can.
if [[ -z "${CHROMIUM_PATH:-}" && ! -x /usr/bin/chromium ]]; then
  if [[ "$(id -u)" == "0" ]] && command -v apt-get >/dev/null 2>&1; then
    log "installing chromium for the browser tests (apt-get)…"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    log "no Chromium at /usr/bin/chromium: install it (e.g. apt-get install chromium) or set CHROMIUM_PATH"
    exit 1
  fi
fi

log "type-checking…"
npx tsc --noEmit -p .
npx tsc --noEmit -p web
log "linting…"
npx eslint . --max-warnings=0

log "running tests…"
status=0
npx jest --runInBand --json --outputFile=.tmp/jest-results.json "$@" || status=$?
node scripts/jest-summary.js .tmp/jest-results.json
exit "$status"
