#!/usr/bin/env bash
# Inside a private D-Bus session: start gnome-keyring's Secret Service with a
# throwaway, unlocked keyring, run the given command, stop the daemon.
set -euo pipefail

keyring_home=$(mktemp -d)
trap 'kill "$gk_pid" 2>/dev/null || true; rm -rf "$keyring_home"' EXIT
# Only the keyring's own files move; HOME stays (rustup and cargo live there).
XDG_DATA_HOME="$keyring_home" gnome-keyring-daemon --foreground --unlock --components=secrets \
  <<<"flowpilot-test" >"$keyring_home/daemon.log" 2>&1 &
gk_pid=$!

# Wait for the Secret Service to own its bus name (readiness, not a test sleep).
for _ in $(seq 200); do
  if dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
       org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q "boolean true"; then
    break
  fi
  kill -0 "$gk_pid" 2>/dev/null || { cat "$keyring_home/daemon.log" >&2; exit 1; }
  sleep 0.05
done

"$@"
