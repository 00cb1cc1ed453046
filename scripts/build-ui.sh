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
npm run build
