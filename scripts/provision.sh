#!/usr/bin/env bash
# Provision a machine for edgeroam's real-network experiments: the lab VM (Vagrantfile) and CI (.ci/run) both run
# this script, so every CI run proves it. Idempotent and non-interactive: each step checks first and logs what it
# did or why it did nothing, so a second run changes nothing.
#
#   scripts/provision.sh [--system] [--check] [--repo DIR]
#
#   (no flag)   system part, then the virtualenv (torch pinned first, edgeroam with its emulation extra), then
#               `edgeroam doctor`
#   --system    only the system part: Debian packages, kernel modules, the Open vSwitch daemons (what CI needs
#               before `make test` builds the virtualenv itself)
#   --check     change nothing; print what a run would change and exit 1 if anything, 0 if nothing
#   --repo DIR  the repository (default: this script's parent folder; Vagrant uploads the script elsewhere)
set -euo pipefail

SYSTEM_ONLY=0
CHECK=0
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." 2>/dev/null && pwd)"
while [ $# -gt 0 ]; do
    case "$1" in
        --system) SYSTEM_ONLY=1 ;;
        --check) CHECK=1 ;;
        --repo) REPO="$2"; shift ;;
        -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "provision: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

# Packages of the net backend (DESIGN §9) and of building the virtualenv.
PACKAGES=(make python3 python3-venv python3-dev gcc iproute2 mininet openvswitch-switch
          openvswitch-testcontroller iperf3 iputils-ping bridge-utils ethtool net-tools kmod)
# Kernel modules the net backend uses where the kernel has them: netem (link delay and loss), the OVS kernel
# datapath, htb shaping. Missing ones are not errors: `edgeroam doctor` says what the backend falls back to.
MODULES=(sch_netem sch_htb openvswitch)
OVS_CTL=/usr/share/openvswitch/scripts/ovs-ctl
CHANGES=0

log() { printf '[provision] %s\n' "$*"; }
change() {  # change DESCRIPTION COMMAND...: run it, or in --check mode only count it
    CHANGES=$((CHANGES + 1))
    if [ "$CHECK" = 1 ]; then log "would: $1"; return 0; fi
    log "doing: $1"
    shift
    "$@"
}

if [ "$(id -u)" != 0 ]; then
    echo "provision: run as root (sudo scripts/provision.sh): it installs packages and starts Open vSwitch" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive

# 1. Debian packages: install only what is missing (apt-get update only then).
missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
extra="linux-modules-extra-$(uname -r)"  # Ubuntu keeps netem and the OVS datapath there; Debian in the image
if ! dpkg-query -W -f='${Status}' "$extra" 2>/dev/null | grep -q "install ok installed" \
        && apt-cache show "$extra" >/dev/null 2>&1; then
    missing+=("$extra")
fi
if [ ${#missing[@]} -eq 0 ]; then
    log "packages: all ${#PACKAGES[@]} present"
else
    change "install ${missing[*]}" bash -c \
        "apt-get update -qq && apt-get install -y -qq --no-install-recommends ${missing[*]} >/dev/null"
fi

# 2. Kernel modules: load what exists; say which cannot be loaded (microVMs have no loadable modules).
for m in "${MODULES[@]}"; do
    if [ -d "/sys/module/$m" ]; then
        log "module $m: loaded"
    elif modprobe -n "$m" >/dev/null 2>&1; then
        change "load module $m" modprobe "$m"
    else
        log "module $m: not available in kernel $(uname -r) (doctor reports the fallback)"
    fi
done

# 3. Open vSwitch daemons (no systemd in a microVM or container: ovs-ctl by hand).
if [ ! -x "$OVS_CTL" ]; then
    log "openvswitch: $OVS_CTL missing"
elif ovs-vsctl --timeout=2 show >/dev/null 2>&1; then
    log "openvswitch: daemons running"
else
    change "start the Open vSwitch daemons" "$OVS_CTL" start --system-id=random
fi

if [ "$SYSTEM_ONLY" = 0 ]; then
    # 4. The virtualenv: torch pinned first (a CPU build), then edgeroam with its emulation extra.
    cd "$REPO"
    if [ -f .venv/.installed ] && [ .venv/.installed -nt pyproject.toml ] && [ .venv/.installed -nt Makefile ] \
            && .venv/bin/python -c 'import torch, edgeroam, os_ken, mininet' 2>/dev/null; then
        log "virtualenv: up to date"
    else
        if [ -z "${PIP_FIND_LINKS:-}" ]; then  # no local torch wheel: take the CPU build, not PyPI's CUDA one
            change "virtualenv with CPU torch" bash -c \
                "test -x .venv/bin/python || python3 -m venv .venv; .venv/bin/python -m pip install -q \
                 torch==2.13.0 --index-url ${TORCH_INDEX:-https://download.pytorch.org/whl/cpu}"
        fi
        change "install edgeroam into .venv (make venv)" make venv
    fi
    # 5. What this machine can emulate.
    if [ "$CHECK" = 0 ]; then
        .venv/bin/edgeroam doctor
    fi
fi

if [ "$CHECK" = 1 ]; then
    log "check: $CHANGES change(s) needed"
    [ "$CHANGES" = 0 ]
else
    log "done ($CHANGES change(s) made)"
fi
