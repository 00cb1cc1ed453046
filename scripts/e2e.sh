#!/usr/bin/env bash
# End-to-end tests in a real window: the debug app under Xvfb, driven over
# WebDriver (tauri-driver + WebKitWebDriver), with the real Secret Service
# (gnome-keyring) and a notification listener (dbus-monitor, plus dunst as the
# notification server) on a private D-Bus session bus, so the user's own
# desktop, keychain and notifications are never touched.
#
#   scripts/e2e.sh              every scenario
#   scripts/e2e.sh smoke        the scenarios whose test name contains "smoke"
#
# Screenshots of every screen land in screenshots/ (FAILED-<scenario>.png for a
# failure). FLOWPILOT_E2E_SKIP_UI_BUILD=1 uses ui/dist as it is. Each scenario gets its own data folder (a fresh SQLite file); they
# are kept, with every helper's log, when a scenario fails.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

if [ "${1:-}" != "--inside" ]; then
  started=$SECONDS
  bash scripts/deps.sh
  # The WebDriver intermediary for Tauri, built from source (about 1.5 min, once).
  if ! command -v tauri-driver >/dev/null 2>&1; then
    echo "==> installing tauri-driver"
    cargo install tauri-driver --locked
  fi
  # The UI, which the app embeds when it compiles. build-ui.sh runs `npm ci` only when node_modules is stale.
  if [ -f ui/package.json ] && [ "${FLOWPILOT_E2E_SKIP_UI_BUILD:-0}" != 1 ]; then
    echo "==> building the UI"
    bash scripts/build-ui.sh
  fi
  # Build outside the session bus, so a build failure reads plainly. `--workspace`
  # everywhere: mixing it with `-p` re-resolves features and rebuilds Tauri.
  echo "==> building the app and the e2e tests"
  cargo build --workspace
  cargo test --workspace --test e2e --no-run
  echo "==> built in $((SECONDS - started)) s"
  exec dbus-run-session -- bash scripts/with-keyring.sh bash scripts/e2e.sh --inside "$@"
fi
shift

# ---- inside: a private session bus, the Secret Service up (with-keyring.sh) ----
started=$SECONDS
# The app keeps GTK's GL off unless GDK_GL is set (src-tauri/src/webkit.rs); the
# page renders the same, but WebKitWebDriver's screenshots never complete in that
# mode (measured: the screenshot request times out). An empty GDK_GL is GTK's
# default, so the scenarios run with GL.
export GDK_GL=
work=$(mktemp -d -t flowpilot-e2e.XXXXXX)
pids=()
status=1

cleanup() {
  # Helpers in reverse order of start, each by its PID.
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill "${pids[i]}" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if [ "$status" -eq 0 ]; then
    rm -rf "$work"
  else
    echo "e2e: kept $work (scenario data folders and app logs, helper logs)" >&2
  fi
}
trap cleanup EXIT

fail() {
  echo "e2e: $1" >&2
  [ -n "${2:-}" ] && [ -f "$2" ] && cat "$2" >&2
  exit 1
}

# Wait (bounded) until "$@" succeeds; readiness, not a test sleep.
await() {
  local what=$1 pid=$2 log=$3
  shift 3
  for _ in $(seq 200); do
    "$@" && return 0
    kill -0 "$pid" 2>/dev/null || fail "$what exited" "$log"
    sleep 0.05
  done
  fail "$what is not ready after 10 s" "$log"
}

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
bus_name_owned() {
  dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
    org.freedesktop.DBus.NameHasOwner "string:$1" 2>/dev/null | grep -q "boolean true"
}

command -v WebKitWebDriver >/dev/null 2>&1 || fail "WebKitWebDriver is missing (Debian: webkit2gtk-driver; scripts/deps.sh installs it)"

# A virtual display on a free display number.
Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp 3>"$work/display" >"$work/xvfb.log" 2>&1 &
pids+=($!)
await "Xvfb" "${pids[-1]}" "$work/xvfb.log" test -s "$work/display"
export DISPLAY=":$(tr -d '[:space:]' <"$work/display")"

# Every Notify call on the session bus, for the tests to read.
notifications="$work/notifications.log"
dbus-monitor --session "interface='org.freedesktop.Notifications'" >"$notifications" 2>&1 &
pids+=($!)
await "dbus-monitor" "${pids[-1]}" "$notifications" grep -q NameAcquired "$notifications"

# A notification server, as on a desktop (the Notify calls then succeed).
if command -v dunst >/dev/null 2>&1; then
  dunst >"$work/dunst.log" 2>&1 &
  pids+=($!)
  await "dunst" "${pids[-1]}" "$work/dunst.log" bus_name_owned org.freedesktop.Notifications
fi

# The apps (children of tauri-driver, which passes its environment on) start no
# accessibility bus: one service less on the session bus, nothing the tests use.
export NO_AT_BRIDGE=1

# tauri-driver on the first free pair of ports from 4444 (it runs WebKitWebDriver on port+1).
port=4444
while listening "$port" || listening "$((port + 1))"; do
  port=$((port + 2))
done
tauri-driver --port "$port" --native-port "$((port + 1))" >"$work/tauri-driver.log" 2>&1 &
pids+=($!)
await "tauri-driver" "${pids[-1]}" "$work/tauri-driver.log" listening "$port"
await "WebKitWebDriver" "${pids[-1]}" "$work/tauri-driver.log" listening "$((port + 1))"

target_dir=${CARGO_TARGET_DIR:-$root/target}
case $target_dir in /*) ;; *) target_dir=$root/$target_dir ;; esac
screenshots=${FLOWPILOT_E2E_SCREENSHOTS:-$root/screenshots}
mkdir -p "$screenshots"
rm -f "$screenshots"/*.png

echo "==> e2e on DISPLAY=$DISPLAY, tauri-driver :$port, work $work (helpers ready in $((SECONDS - started)) s)"
set +e
FLOWPILOT_E2E=1 \
  FLOWPILOT_E2E_DRIVER="http://127.0.0.1:$port" \
  FLOWPILOT_E2E_APP="$target_dir/debug/flowpilot" \
  FLOWPILOT_E2E_WORK="$work/scenarios" \
  FLOWPILOT_E2E_NOTIFICATIONS="$notifications" \
  FLOWPILOT_E2E_DRIVER_LOG="$work/tauri-driver.log" \
  FLOWPILOT_E2E_SCREENSHOTS="$screenshots" \
  cargo test --workspace --test e2e -- --test-threads=1 --nocapture "$@"
status=$?
set -e
echo "==> e2e finished in $((SECONDS - started)) s (status $status); screenshots in ${screenshots#"$root"/}/"
exit "$status"
