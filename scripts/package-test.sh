#!/usr/bin/env bash
# The package, tested as a person installs it (CI runs this after the tests):
# build the .deb (scripts/package.sh), check what it declares and holds,
# install it with apt, start the installed /usr/bin/flowpilot --hidden under
# Xvfb on a private session bus with a throwaway data folder, wait until it is
# armed, run plans/hello-logic.json with the installed /usr/bin/flowpilot-cli,
# open the window with a second launch (the packaged UI loads), quit the app,
# and remove the package. The package is removed however the test ends.
#
#   bash scripts/package-test.sh        (as root, or with sudo; needs apt)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
PLAN_FILE=plans/hello-logic.json
PLAN_NAME="Hello, logic"
EXPECTED='Overdue: ["Renew the domain","Back up the laptop"]'

fail() { echo "package test: $*" >&2; exit 1; }

# Waits (polling, for at most LIMIT s) until FILE has a line matching PATTERN
# while process PID lives.
wait_for_line() {
  local file=$1 pattern=$2 pid=$3 limit=$4 started=$SECONDS
  until grep -q "$pattern" "$file" 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || fail "the app exited before '$pattern'; it printed: $(cat "$file" "$file.err" 2>/dev/null)"
    [ $((SECONDS - started)) -lt "$limit" ] || fail "no '$pattern' within $limit s; the app printed: $(cat "$file" "$file.err" 2>/dev/null)"
    sleep 0.1
  done
}

if [ "${1:-}" = "--inside" ]; then
  # ---- inside: a private session bus; the package is installed ----
  work=$(mktemp -d -t flowpilot-package.XXXXXX)
  pids=()
  cleanup() {
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill "${pids[i]}" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
  }
  trap cleanup EXIT
  export FLOWPILOT_DATA_DIR="$work/data" FLOWPILOT_PRINT_READY=1
  export XDG_DATA_HOME="$work/xdg/data" XDG_CACHE_HOME="$work/xdg/cache" XDG_CONFIG_HOME="$work/xdg/config"

  display=:$((300 + RANDOM % 300))
  Xvfb "$display" -screen 0 1280x800x24 -nolisten tcp >"$work/xvfb.log" 2>&1 &
  pids+=($!)
  export DISPLAY=$display
  for _ in $(seq 100); do [ -e "/tmp/.X11-unix/X${display#:}" ] && break; sleep 0.05; done

  echo "==> /usr/bin/flowpilot --hidden"
  /usr/bin/flowpilot --hidden >"$work/app.out" 2>"$work/app.out.err" &
  app=$!
  pids+=("$app")
  wait_for_line "$work/app.out" '^flowpilot-ready armed ' "$app" 60
  grep '^flowpilot-ready armed ' "$work/app.out"
  webkit=$(ps --ppid "$app" -o comm= | grep -c '^WebKit' || true)
  [ "$webkit" = 0 ] || fail "started hidden, yet $webkit WebKit process(es) run"

  echo "==> /usr/bin/flowpilot-cli: import and run $PLAN_FILE"
  /usr/bin/flowpilot-cli plans import "$root/$PLAN_FILE"
  set +e
  out=$(/usr/bin/flowpilot-cli run "$PLAN_NAME" 2>"$work/run.err")
  code=$?
  set -e
  [ "$code" = 0 ] || fail "flowpilot-cli run exited $code: $(cat "$work/run.err")"
  [ "$out" = "$EXPECTED" ] || fail "flowpilot-cli run printed '$out', expected '$EXPECTED'"
  echo "$out"
  /usr/bin/flowpilot-cli runs list --plan "$PLAN_NAME" --json | python3 -c '
import json, sys
runs = json.load(sys.stdin)["runs"]
assert len(runs) == 1 and runs[0]["status"] == "success", runs
print("the run is in the shared data folder:", runs[0]["status"])'

  echo "==> a second launch opens the window of the running app"
  /usr/bin/flowpilot || fail "the second launch failed"
  wait_for_line "$work/app.out" '^flowpilot-ready window-loaded ' "$app" 60
  grep '^flowpilot-ready window-loaded ' "$work/app.out"

  echo "==> quit"
  kill "$app"
  wait "$app" 2>/dev/null || true
  echo "package-test: 1 passed, 0 failed"
  exit 0
fi

# ---- outside: build, inspect, install; remove on the way out ----
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
if dpkg-query -W -f='${Status}' flowpilot 2>/dev/null | grep -q "install ok installed"; then
  fail "a flowpilot package is installed on this machine already; this test would remove it (apt-get remove flowpilot first)"
fi

started=$SECONDS
deb=$(bash scripts/package.sh | tail -1)
[ -f "$deb" ] || fail "scripts/package.sh made no package"
echo "==> $deb: $(stat -c %s "$deb") bytes, built and bundled in $((SECONDS - started)) s"

echo "==> dpkg -I"
dpkg-deb -I "$deb" | sed -n '/Package:/,$p'
depends=$(dpkg-deb -f "$deb" Depends)
for dep in libwebkit2gtk-4.1-0 libgtk-3-0 libayatana-appindicator3-1 libdbus-1-3; do
  grep -q "$dep" <<<"$depends" || fail "Depends lacks $dep: $depends"
done
echo "==> dpkg -c"
contents=$(dpkg-deb -c "$deb")
for path in usr/bin/flowpilot usr/bin/flowpilot-cli usr/share/applications/Flowpilot.desktop \
  usr/share/icons/hicolor/128x128/apps/flowpilot.png; do
  grep -Eq " (\./)?$path\$" <<<"$contents" || fail "the package lacks /$path:
$contents"
done
awk '{print $1, $3, $6}' <<<"$contents"

remove() {
  echo "==> removing the package"
  $SUDO apt-get remove -y -qq flowpilot >/dev/null 2>&1 || $SUDO dpkg -r flowpilot >/dev/null 2>&1 || true
  if dpkg-query -W -f='${Status}' flowpilot 2>/dev/null | grep -q "install ok installed"; then
    echo "package test: could not remove the package" >&2
    exit 1
  fi
  [ ! -e /usr/bin/flowpilot ] && [ ! -e /usr/bin/flowpilot-cli ] || { echo "package test: files left in /usr/bin" >&2; exit 1; }
}
trap remove EXIT

echo "==> apt-get install ./$(basename "$deb")"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y -qq --no-install-recommends "$root/$deb"
[ "$(command -v flowpilot)" = /usr/bin/flowpilot ] || fail "flowpilot is not /usr/bin/flowpilot on the PATH"
[ "$(command -v flowpilot-cli)" = /usr/bin/flowpilot-cli ] || fail "flowpilot-cli is not on the PATH"
flowpilot --version
grep -q '^Exec=flowpilot' /usr/share/applications/Flowpilot.desktop || fail "the desktop entry does not start flowpilot"

# A Secret Service of its own (started and stopped by PID), as a desktop has one:
# without it, the bus would start gnome-keyring on first use and leave it running.
dbus-run-session -- bash "$root/scripts/with-keyring.sh" bash "$root/scripts/package-test.sh" --inside
