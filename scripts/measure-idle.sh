#!/usr/bin/env bash
# How often the desktop app's GUI thread (the GTK main loop) wakes up while it
# idles in the tray with nothing scheduled: prints the main thread's voluntary
# context switches over a minute (`strace -p <pid>` shows what each was). Flowpilot's own
# timers (scheduler, maintenance) run on the async runtime's threads, so the
# main loop should only wake for outside events (D-Bus messages, X events).
# Needs Xvfb.
#
#   bash scripts/measure-idle.sh [seconds=60]      (PROFILE=release for a release build)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
app="$PWD/target/${PROFILE:-debug}/flowpilot"
[ -x "$app" ] || { echo "build first (missing $app)" >&2; exit 1; }
if [ -z "${FLOWPILOT_MEASURE_INNER:-}" ]; then
  FLOWPILOT_MEASURE_INNER=1 exec dbus-run-session -- bash "$0" "$@"
fi
data=$(mktemp -d)
export FLOWPILOT_DATA_DIR="$data"
Xvfb :78 -screen 0 1280x800x24 >/dev/null 2>&1 &
xvfb=$!
export DISPLAY=:78
"$app" --hidden >"$data/app.out" 2>&1 &
app_pid=$!
trap 'kill $app_pid $xvfb 2>/dev/null || true; rm -rf "$data"' EXIT
switches() { awk '/^voluntary_ctxt_switches/ {print $2}' "/proc/$app_pid/task/$app_pid/status"; }
sleep 10 # start-up settles (a measurement script, not a test)
before=$(switches)
sleep "$seconds"
after=$(switches)
echo "GUI thread: $((after - before)) wake-ups in $seconds s"
