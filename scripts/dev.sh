#!/usr/bin/env bash
# npm run dev: installs what is missing, then brings the whole system up (see scripts/dev.ts).
set -euo pipefail
source "$(dirname "$0")/bootstrap.sh"
cd "$HERALD_ROOT"
exec node --import tsx scripts/dev.ts "$@"
