#!/bin/sh
# Installs the emisar runner as a systemd service running as the unprivileged user
# `emisar`. Usage: install-runner.sh [--dry-run] [--url URL] [--group GROUP]
#   [--enrollment-key-file FILE] [--unit-file PATH] [--prefix DIR]
# --dry-run prints every action it would take and changes nothing.
# --prefix installs under DIR instead of / (for packaging and tests).
set -eu

DRY_RUN=0
URL=""
GROUP=""
KEY_FILE=""
PREFIX=""
SCRIPT_DIR=$(cd "$(dirname "$0")" && pwd)
UNIT_FILE="$SCRIPT_DIR/../deploy/systemd/emisar-runner.service"

usage() { sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY_RUN=1 ;;
    --url) URL="${2:?--url needs a value}"; shift ;;
    --group) GROUP="${2:?--group needs a value}"; shift ;;
    --enrollment-key-file) KEY_FILE="${2:?--enrollment-key-file needs a value}"; shift ;;
    --unit-file) UNIT_FILE="${2:?--unit-file needs a value}"; shift ;;
    --prefix) PREFIX="${2:?--prefix needs a value}"; shift ;;
    -h|--help) usage ;;
    *) echo "install-runner: unknown option $1" >&2; usage ;;
  esac
  shift
done

case "$URL" in
  ""|https://*|http://127.*|http://localhost*|http://\[::1\]*) ;;
  *) echo "install-runner: --url must be https:// (plain http only to loopback)" >&2; exit 2 ;;
esac

ETC="$PREFIX/etc/emisar"
LIB="$PREFIX/var/lib/emisar"
LOG="$PREFIX/var/log/emisar"
UNIT_DEST="$PREFIX/etc/systemd/system/emisar-runner.service"

# Every change goes through run: printed in dry-run mode, executed otherwise.
run() {
  if [ "$DRY_RUN" = 1 ]; then
    printf 'would run:'
    printf ' %s' "$@"
    printf '\n'
  else
    "$@"
  fi
}

# write_file MODE PATH: content on stdin.
write_file() {
  if [ "$DRY_RUN" = 1 ]; then
    printf 'would write %s (mode %s):\n' "$2" "$1"
    sed 's/^/  | /'
  else
    umask 077
    cat > "$2.tmp"
    chmod "$1" "$2.tmp"
    mv "$2.tmp" "$2"
  fi
}

if [ "$DRY_RUN" = 0 ] && [ -z "$PREFIX" ] && [ "$(id -u)" != 0 ]; then
  echo "install-runner: run as root (or use --dry-run)" >&2
  exit 1
fi

if ! getent passwd emisar >/dev/null 2>&1; then
  run useradd --system --home-dir /var/lib/emisar --no-create-home --shell /usr/sbin/nologin emisar
else
  echo "user emisar exists"
fi
for group in adm systemd-journal; do
  if getent group "$group" >/dev/null 2>&1; then
    run usermod -a -G "$group" emisar
  else
    echo "group $group does not exist here; skipping"
  fi
done

run install -d -m 0755 -o root -g root "$ETC"
run install -d -m 0755 -o root -g root "$ETC/packs"
run install -d -m 0750 -o emisar -g emisar "$LIB"
run install -d -m 0750 -o emisar -g emisar "$LOG"

if [ -e "$ETC/config.yaml" ] && [ "$DRY_RUN" = 0 ]; then
  echo "keeping existing $ETC/config.yaml"
else
  write_file 0644 "$ETC/config.yaml" <<CONFIG
# emisar runner config (see docs/runner.md). Strict YAML: unknown keys are errors.
runner:
  id: $(hostname)
${GROUP:+  group: $GROUP
}cloud:
  url: ${URL:-https://emisar.example.com}
paths:
  data_dir: /var/lib/emisar
  packs: [/etc/emisar/packs]
events:
  jsonl_path: /var/log/emisar/events.jsonl
admission:
  # Critical actions (reboot, flush, terminate) need a deliberate local opt-in,
  # even if the control plane is compromised.
  max_risk: high
CONFIG
  run chown root:root "$ETC/config.yaml"
fi

if [ -e "$ETC/runner.env" ] && [ "$DRY_RUN" = 0 ]; then
  echo "keeping existing $ETC/runner.env"
else
  if [ -n "$KEY_FILE" ]; then
    if [ "$DRY_RUN" = 1 ]; then
      printf 'would write %s (mode 0600) with EMISAR_ENROLLMENT_KEY from %s\n' "$ETC/runner.env" "$KEY_FILE"
    else
      { printf 'EMISAR_ENROLLMENT_KEY='; tr -d '\n' < "$KEY_FILE"; printf '\n'; } | write_file 0600 "$ETC/runner.env"
    fi
  else
    printf '# EMISAR_ENROLLMENT_KEY=emkey-enroll-...\n' | write_file 0600 "$ETC/runner.env"
  fi
  run chown root:root "$ETC/runner.env"
fi

run install -D -m 0644 "$UNIT_FILE" "$UNIT_DEST"
if [ -z "$PREFIX" ]; then
  run systemctl daemon-reload
  run systemctl enable emisar-runner.service
  echo "next: put packs in /etc/emisar/packs, the enrollment key in /etc/emisar/runner.env, then: systemctl start emisar-runner"
fi
