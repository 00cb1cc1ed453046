#!/usr/bin/env bash
# Measures the desktop app's total memory (RSS of the app and every process it
# started, WebKit's web and network processes included) while it lives in the
# tray (needs Xvfb, openbox and wmctrl from Debian)
# tray: hidden at start, with the window open, hidden again, and after N
# scheduled runs (one per second, logic-only). Prints the figures.
#
#   bash scripts/measure-memory.sh [runs=1000]      (PROFILE=release for a release build)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-1000}
profile=${PROFILE:-debug}
app="$PWD/target/$profile/flowpilot"
cli="$PWD/target/$profile/flowpilot-cli"
[ -x "$app" ] && [ -x "$cli" ] || { echo "build first (missing $app or $cli)" >&2; exit 1; }

# Everything below runs on a private session bus with a virtual display.
if [ -z "${FLOWPILOT_MEASURE_INNER:-}" ]; then
  FLOWPILOT_MEASURE_INNER=1 exec dbus-run-session -- bash "$0" "$@"
fi

data=$(mktemp -d)
export FLOWPILOT_DATA_DIR="$data"
cat >"$data/tick.json" <<'PLAN'
{"name": "Memory tick", "status": "active",
 "steps": [{"provider": "logic", "action": "set", "params": {"value": "${trigger.scheduled_for}"}}],
 "trigger": {"type": "cron", "cron_expression": "* * * * * *", "timezone": "UTC", "overlap": "allow"}}
PLAN
"$cli" plans import --activate "$data/tick.json" >/dev/null

Xvfb :77 -screen 0 1280x800x24 >/dev/null 2>&1 &
xvfb=$!
export DISPLAY=:77
# A window manager, so closing the window is a real close request.
openbox >/dev/null 2>&1 &
wm=$!
"$app" --hidden >"$data/app.out" 2>&1 &
app_pid=$!
trap 'kill $app_pid $wm $xvfb 2>/dev/null || true; rm -rf "$data"' EXIT

total_mib() {
  local pids=$app_pid all=$app_pid next p
  while [ -n "$pids" ]; do
    next=""
    for p in $pids; do next="$next $(pgrep -P "$p" || true)"; done
    pids=$(echo $next)
    all="$all $pids"
  done
  for p in $all; do awk '/^VmRSS/ {print $2}' "/proc/$p/status" 2>/dev/null || true; done \
    | awk '{s+=$1} END {printf "%.0f MiB (%d processes)", s/1024, NR}'
}
runs_done() { "$cli" runs list --json --limit 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])'; }

# Polling a measurement script, not synchronising a test.
until [ "$(runs_done)" -ge 3 ]; do sleep 1; done
echo "hidden at start (no webview):   $(total_mib)"
"$app" >/dev/null 2>&1 || true   # a second launch shows the window
sleep 5
echo "window open (webview running):  $(total_mib)"
wmctrl -c Flowpilot || echo "(could not close the window)"
sleep 5
echo "window closed again:            $(total_mib)"
until [ "$(runs_done)" -ge "$runs" ]; do sleep 10; done
echo "after $(runs_done) scheduled runs:    $(total_mib)"
