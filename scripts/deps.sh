#!/usr/bin/env bash
# Installs what building and testing Flowpilot needs on Debian/Ubuntu.
# Idempotent: packages already present are not installed again.
set -euo pipefail

APT_PACKAGES=(
  build-essential pkg-config file libssl-dev libdbus-1-dev curl
  # the desktop app (Tauri 2 on WebKitGTK), its tray and notifications
  libwebkit2gtk-4.1-dev libayatana-appindicator3-dev librsvg2-dev libxdo-dev libgtk-3-dev
  # keychain tests: a real Secret Service on a private session bus
  dbus dbus-x11 gnome-keyring libsecret-tools libsecret-1-dev
  # the app under a virtual display, driven over WebDriver; a notification daemon
  xvfb xauth webkit2gtk-driver dunst libnotify-bin
  # real mail servers the trigger and email tests start as children on 127.0.0.1:
  # Dovecot IMAP, aiosmtpd as the SMTP receiver, openssl for their throwaway certs
  dovecot-imapd python3-aiosmtpd openssl
  # /usr/bin/time: the reliability suite measures the CLI's peak memory with it
  time
)
# The web UI's toolchain, only when there is no Node at all (a Node from
# NodeSource already ships npm, and Debian's npm package would fight it).
if ! command -v npm >/dev/null 2>&1; then
  APT_PACKAGES+=(nodejs npm)
fi

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "==> installing: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  # A concurrent apt run can delete downloaded .debs: try once more before giving up.
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    || $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo is missing: install Rust with rustup (https://rustup.rs) and run this again" >&2
  exit 1
fi
