#!/usr/bin/env bash
# The desktop app's footprint and start-up as the tray lives them: hidden at
# start, with the window open, 10 s after the window is closed, and after N
# scheduled runs (logic-only plans firing every second); then a start with the window.
#
# For each state: RSS and PSS of the app and of every process it started
# (WebKit's web and network processes included), the process count, which
# processes are WebKit's, which map GL (Mesa's driver, libLLVM), and the app
# process's open fds and threads. The times come from the app's own readiness
# lines (FLOWPILOT_PRINT_READY=1, wall clock) against the wall clock noted just
# before the process was started, so they include loading the libraries.
#
#   bash scripts/measure-memory.sh [runs=1000]      (PROFILE=release for a release build)
#
# MEASURE_OUT=FILE also writes every figure as `key value` lines (scripts/bench.sh
# reads them). MEASURE_SMAPS=DIR keeps each process's /proc/<pid>/smaps of each
# state there (`<state>-<name>-<pid>.smaps`), to see what the memory is. Needs Xvfb, openbox and wmctrl (installed here when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-1000}
profile=${PROFILE:-debug}
app=${FLOWPILOT_APP:-$PWD/target/$profile/flowpilot}
cli=${FLOWPILOT_CLI:-$PWD/target/$profile/flowpilot-cli}
# A panel's tray host, so closing the window closes it (on a desktop without one the app asks first).
watcher=${FLOWPILOT_TRAY_HOST:-$PWD/target/$profile/status-notifier-watcher}
[ -x "$app" ] && [ -x "$cli" ] && [ -x "$watcher" ] || {
  echo "build first: cargo build --workspace (missing $app, $cli or $watcher)" >&2
  exit 1
}

# Everything below runs on a private session bus with a virtual display.
if [ -z "${FLOWPILOT_MEASURE_INNER:-}" ]; then
  missing=()
  for tool in Xvfb:xvfb openbox:openbox wmctrl:wmctrl; do
    command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool#*:}")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "==> installing ${missing[*]} (the window manager closes the window as a person does)" >&2
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  fi
  # A Secret Service of its own, stopped by PID (else the bus starts one that stays).
  FLOWPILOT_MEASURE_INNER=1 exec dbus-run-session -- bash scripts/with-keyring.sh bash "$0" "$@"
fi

work=$(mktemp -d)
export FLOWPILOT_DATA_DIR="$work/data" FLOWPILOT_PRINT_READY=1
# Logs and WebKit's caches go to a throwaway home too.
export XDG_DATA_HOME="$work/xdg/data" XDG_CACHE_HOME="$work/xdg/cache" XDG_CONFIG_HOME="$work/xdg/config"
mkdir -p "$FLOWPILOT_DATA_DIR"
# Plans that run every second, one per 100 runs asked for (at most 20), so
# 10,000 runs take minutes, not hours.
plans=$((runs / 100))
[ "$plans" -ge 1 ] || plans=1
[ "$plans" -le 20 ] || plans=20
for i in $(seq "$plans"); do
  cat >"$work/tick-$i.json" <<PLAN
{"name": "Memory tick $i", "status": "active",
 "steps": [{"provider": "logic", "action": "set", "params": {"value": "\${trigger.scheduled_for}"}}],
 "trigger": {"type": "cron", "cron_expression": "* * * * * *", "timezone": "UTC", "overlap": "allow"}}
PLAN
done
"$cli" plans import --activate "$work"/tick-*.json >/dev/null

display=:$((70 + RANDOM % 200))
Xvfb "$display" -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 &
xvfb=$!
export DISPLAY=$display
app_pid=""
wm=""
tray=""
cleanup() {
  for pid in $app_pid $tray $wm $xvfb; do kill "$pid" 2>/dev/null || true; done
  for pid in $app_pid $tray $wm $xvfb; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 100); do [ -e "/tmp/.X11-unix/X${display#:}" ] && break; sleep 0.05; done
# A window manager, so closing the window is a real close request.
openbox >/dev/null 2>&1 &
wm=$!
# A panel that shows tray icons (its StatusNotifierWatcher), as on KDE, XFCE or GNOME with AppIndicator.
"$watcher" >"$work/tray.out" 2>&1 &
tray=$!
for _ in $(seq 200); do grep -q '^ready' "$work/tray.out" 2>/dev/null && break; sleep 0.05; done
grep -q '^ready' "$work/tray.out" || { echo "the tray host did not start:" >&2; cat "$work/tray.out" >&2; exit 1; }
# A desktop session has the accessibility bus running; here the app's first GTK
# call would start it (D-Bus activation), which is no part of the app's start.
dbus-send --session --print-reply --dest=org.a11y.Bus /org/a11y/bus org.a11y.Bus.GetAddress >/dev/null 2>&1 || true

out() { [ -z "${MEASURE_OUT:-}" ] || echo "$1 $2" >>"$MEASURE_OUT"; }
now_ms() { date +%s%3N; }
mib() { awk -v kib="$1" 'BEGIN {printf "%.1f", kib / 1024}'; }

# Wait (polling: this is a measurement, not a test's synchronisation) until the
# app has printed its COUNT-th MILESTONE line; print that line's unix_ms.
milestone_ms() {
  local milestone=$1 count=$2 limit=$3 started=$SECONDS line
  while :; do
    line=$(grep "^flowpilot-ready $milestone " "$work/app.out" | sed -n "${count}p")
    if [ -n "$line" ]; then
      sed 's/.*unix_ms=\([0-9]*\).*/\1/' <<<"$line"
      return
    fi
    if ! kill -0 "$app_pid" 2>/dev/null; then
      echo "the app exited before '$milestone':" >&2; cat "$work/app.out" >&2; exit 1
    fi
    if [ $((SECONDS - started)) -ge "$limit" ]; then
      echo "no '$milestone' within $limit s:" >&2; cat "$work/app.out" >&2; exit 1
    fi
    sleep 0.02
  done
}

tree() {
  local pids=$app_pid all=$app_pid next p
  while [ -n "$pids" ]; do
    next=""
    for p in $pids; do next="$next $(pgrep -P "$p" || true)"; done
    pids=$(echo $next)
    all="$all $pids"
  done
  echo $all
}

printf '%-24s %8s %8s %6s  %-22s %-14s %5s %8s\n' state "RSS MiB" "PSS MiB" procs "WebKit processes" "GL mapped in" fds threads
# One row: the whole process tree now.
row() {
  local label=$1 key=$2 rss=0 pss=0 procs=0 webkit="" gl="" p comm kb
  for p in $(tree); do
    comm=$(cat "/proc/$p/comm" 2>/dev/null) || continue
    kb=$(awk '/^Rss:/ {r=$2} /^Pss:/ {s=$2} END {print r+0, s+0}' "/proc/$p/smaps_rollup" 2>/dev/null) || continue
    rss=$((rss + ${kb% *}))
    pss=$((pss + ${kb#* }))
    procs=$((procs + 1))
    [ -z "${MEASURE_SMAPS:-}" ] || cp "/proc/$p/smaps" "$MEASURE_SMAPS/$key-$comm-$p.smaps" 2>/dev/null || true
    case $comm in WebKit*) webkit="$webkit,${comm#WebKit}" ;; esac
    if grep -qE '_dri\.so|libLLVM|libgallium|libEGL_mesa|libGLX_mesa' "/proc/$p/maps" 2>/dev/null; then
      gl="$gl,$comm"
    fi
  done
  local fds threads
  fds=$(ls "/proc/$app_pid/fd" | wc -l)
  threads=$(awk '/^Threads:/ {print $2}' "/proc/$app_pid/status")
  webkit=${webkit#,}
  gl=${gl#,}
  rss=$(mib "$rss")
  pss=$(mib "$pss")
  printf '%-24s %8s %8s %6d  %-22s %-14s %5d %8d\n' "$label" "$rss" "$pss" "$procs" \
    "${webkit:-none}" "${gl:-none}" "$fds" "$threads"
  out "$key.rss_mib" "$rss"
  out "$key.pss_mib" "$pss"
  out "$key.processes" "$procs"
  out "$key.webkit" "${webkit:-none}"
  out "$key.gl" "${gl:-none}"
  out "$key.fds" "$fds"
  out "$key.threads" "$threads"
}
runs_done() { "$cli" runs list --json --limit 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])'; }
window_listed() { wmctrl -l | grep -q ' Flowpilot$'; }

# ---- hidden in the tray ----
t0=$(now_ms)
"$app" --hidden >"$work/app.out" 2>"$work/app.err" &
app_pid=$!
armed=$(($(milestone_ms armed 1 60) - t0))
until [ "$(runs_done)" -ge 3 ]; do sleep 0.5; done
row "hidden at start" hidden

# ---- the window, opened as from the tray (a second launch shows it) ----
t0=$(now_ms)
"$app" >/dev/null 2>&1 || true
opened=$(($(milestone_ms window-loaded 1 60) - t0))
sleep 3 # let the first screen's data arrive and settle
row "window open" open

# ---- closed as a person does; the target is 10 s later ----
wmctrl -c Flowpilot || echo "(could not close the window)" >&2
for _ in $(seq 200); do window_listed || break; sleep 0.05; done
sleep 10
row "window closed, +10 s" closed

# ---- a day in the tray, compressed ----
before=$(runs_done)
until [ "$(runs_done)" -ge "$runs" ]; do sleep 2; done
row "after $(runs_done) runs" after_runs
out after_runs.count "$(runs_done)"

# ---- a start with the window ----
kill "$app_pid"
wait "$app_pid" 2>/dev/null || true
t0=$(now_ms)
"$app" >"$work/app.out" 2>"$work/app.err" &
app_pid=$!
painted=$(($(milestone_ms window-loaded 1 60) - t0))
kill "$app_pid"
wait "$app_pid" 2>/dev/null || true

echo
echo "start --hidden -> armed:           $armed ms"
echo "tray Open -> window loaded:        $opened ms"
echo "start -> window loaded:            $painted ms"
echo "scheduled runs while measuring:    $(( $(runs_done) - before )) after the window closed"
out start.armed_ms "$armed"
out open.loaded_ms "$opened"
out start.loaded_ms "$painted"
