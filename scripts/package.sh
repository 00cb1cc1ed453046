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
# the two binaries the release build below made (the app, and the CLI from
# flowpilot-core); the test crate is not built for the package.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS

bash scripts/deps.sh
bash scripts/build-ui.sh
echo "==> cargo build --release (the app and flowpilot-cli)"
cargo build --release -p flowpilot -p flowpilot-core --bins
built=$SECONDS

echo "==> bundling the .deb"
rm -rf target/release/bundle/deb
# From src-tauri, where the CLI finds tauri.conf.json. What only the package
# needs (its dependencies, flowpilot-cli in /usr/bin) is in tauri.package.conf.json,
# so changing it does not rebuild the app. The bundler itself declares
# WebKitGTK 4.1, GTK 3 and the Ayatana tray library; libdbus-1-3 is ours.
(cd src-tauri && ../ui/node_modules/.bin/tauri bundle --bundles deb --ci --config tauri.package.conf.json)
deb=$(ls target/release/bundle/deb/*.deb)

# The bundler compresses with gzip; xz makes the package less than half as big
# (measured: 20.2 MB -> 9.1 MB). At level 9 xz looks 64 MiB back (level 6: 8
# MiB), so the CLI's code is found again in the app's, which shares most of it:
# 17.3 -> 11.8 MB, and unpacking needs 65 MiB of memory (level 6: 9 MiB).
# Repacked with dpkg-deb, files owned by root.
echo "==> repacking with xz -9"
unpacked=$(mktemp -d)
trap 'rm -rf "$unpacked"' EXIT
dpkg-deb -R "$deb" "$unpacked/root"
dpkg-deb -Zxz -z9 --root-owner-group -b "$unpacked/root" "$deb" >/dev/null
echo "==> built in $((built - started)) s, bundled in $((SECONDS - built)) s: $(stat -c %s "$deb") bytes"
echo "$deb"
