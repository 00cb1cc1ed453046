#!/usr/bin/env bash
# Runs every test: unit, integration (real SQLite files, real HTTP peers on
# 127.0.0.1) and the keychain tests against a real Secret Service (gnome-keyring
# on a private D-Bus session bus, so the user's own keychain is never touched).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh

# Build first, outside the session bus, so a build failure reads plainly.
cargo test --workspace --no-run

export FLOWPILOT_REQUIRE_KEYCHAIN=1
exec dbus-run-session -- bash scripts/with-keyring.sh cargo test --workspace "$@"
