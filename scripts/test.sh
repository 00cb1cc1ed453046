#!/usr/bin/env bash
# Runs every test:
#  1. the UI's type check and component tests (vitest + jsdom),
#  2. every Rust test (unit, integration with real SQLite files and HTTP peers on
#     127.0.0.1, the app's commands on Tauri's mock runtime) inside a private D-Bus
#     session with a real Secret Service (gnome-keyring, throwaway keyring: the
#     user's own keychain is never touched) and a virtual display,
#  3. the end-to-end tests: the real app in a real window over WebDriver.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh
bash scripts/build-ui.sh
echo "==> UI: type check and component tests"
npm --prefix ui run check
npm --prefix ui test

# Build first, outside the session bus, so a build failure reads plainly.
cargo test --workspace --no-run

echo "==> Rust tests"
export FLOWPILOT_REQUIRE_KEYCHAIN=1
# Dovecot and aiosmtpd (installed by deps.sh): a test that cannot start them fails.
export FLOWPILOT_REQUIRE_SERVERS=1
dbus-run-session -- bash scripts/with-keyring.sh xvfb-run -a cargo test --workspace "$@"

echo "==> end-to-end tests"
bash scripts/e2e.sh
