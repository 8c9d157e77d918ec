#!/usr/bin/env bash
# `herald` on the PATH (package.json "bin"). Runs the repo's own tsx by path: `npx --no-install tsx`
# resolves tsx from the caller's working directory, so it fails when herald runs outside the repo.
here="$(dirname "$(readlink -f "$0")")"
exec "$here/../node_modules/.bin/tsx" "$here/herald.ts" "$@"
