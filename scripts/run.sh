#!/usr/bin/env bash
# Installs what Flowpilot needs, builds the UI and the app, and starts it.
# Extra arguments go to the app (e.g. --hidden to start in the tray only).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
bash scripts/build-ui.sh
cargo build --workspace --bins
exec target/debug/flowpilot "$@"
