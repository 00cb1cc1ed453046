#!/usr/bin/env bash
# Builds the release app (the UI first) and packs it as a .deb: `flowpilot` and
# `flowpilot-cli` in /usr/bin, a desktop entry and icons, the runtime
# dependencies declared (src-tauri/tauri.conf.json, bundle.linux.deb).
# Prints the package's path last.
#
#   bash scripts/package.sh
#
# The bundler is the Tauri CLI from ui/node_modules (npm's @tauri-apps/cli ships
# its binary, so this works offline once `npm ci` has run). `tauri bundle` packs
# the binaries `cargo build --release --workspace` made, so the package holds
# exactly what the tests and benchmarks built, and nothing is compiled twice.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS

bash scripts/deps.sh
bash scripts/build-ui.sh
echo "==> cargo build --release --workspace"
cargo build --release --workspace
built=$SECONDS

echo "==> bundling the .deb"
rm -rf target/release/bundle/deb
# From src-tauri, where the CLI finds tauri.conf.json.
(cd src-tauri && ../ui/node_modules/.bin/tauri bundle --bundles deb --ci)
deb=$(ls target/release/bundle/deb/*.deb)
echo "==> built in $((built - started)) s, bundled in $((SECONDS - built)) s: $(du -h "$deb" | cut -f1)"
echo "$deb"
