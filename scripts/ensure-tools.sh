#!/usr/bin/env bash
# Makes sure the tools the native stack needs are on this machine: Python 3.11+ with venv,
# Java 17+ and Maven (they run and resolve the Kafka broker). Installs what is missing with
# apt-get when run as root on Debian/Ubuntu; otherwise says what to install.
set -euo pipefail

missing=()
python3 -c 'import sys, venv; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || missing+=(python3 python3-venv)
java_major=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1 || true)
if [ -z "${java_major}" ] || [ "${java_major}" -lt 17 ]; then missing+=(openjdk-17-jre-headless); fi
command -v mvn >/dev/null || missing+=(maven)

[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "error: missing ${missing[*]}: install them (e.g. sudo apt-get install ${missing[*]})" >&2
  exit 2
fi
