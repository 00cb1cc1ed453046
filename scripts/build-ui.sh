#!/usr/bin/env bash
# Builds the web UI into ui/dist, which the desktop app embeds when it compiles
# (so this runs before any cargo build of the app). Skips npm ci when
# node_modules already matches the lock file.
set -euo pipefail
cd "$(dirname "$0")/../ui"
if [ ! -f node_modules/.package-lock.json ] || ! cmp -s package-lock.json node_modules/.flowpilot-lock; then
  npm ci --no-audit --no-fund
  cp package-lock.json node_modules/.flowpilot-lock
fi
# The app embeds ui/dist, and a rewritten ui/dist makes cargo rebuild the app:
# build only when an input is newer than the last build.
if [ -f dist/index.html ] && [ -z "$(find src public index.html package.json package-lock.json \
  vite.config.ts svelte.config.js tsconfig.json -newer dist/index.html -print -quit 2>/dev/null)" ]; then
  echo "ui/dist is up to date"
  exit 0
fi
npm run build
