#!/usr/bin/env bash
# Builds Flowpilot and starts it. Arguments go to flowpilot-cli (default: --help).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cargo build --release -p flowpilot-core --bin flowpilot-cli
if [ $# -eq 0 ]; then set -- --help; fi
exec target/release/flowpilot-cli "$@"
