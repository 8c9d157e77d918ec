#!/usr/bin/env bash
# `npm run bench`: what a fresh clone needs (npm packages, the Temporal CLI, redis-server for the
# BullMQ peer; the full Temporal server with --temporal full), then the benchmark itself.
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/bootstrap.sh"
ensure_redis
args=" $* "
if [[ "$args" == *" --temporal full "* || "$args" == *" --temporal=full "* ]]; then ensure_temporal_server; fi
exec node --import tsx "$HERALD_ROOT/bench/main.ts" "$@"
