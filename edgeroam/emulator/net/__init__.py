"""The net backend: a real Mininet network of hex cells (hosts in network namespaces, Linux-bridge or Open
vSwitch switches, htb-shaped veth links), handover by pre-made links, byte counters, a fidelity monitor and
cleanup.

Modules: `doctor` (what this machine can emulate), `build` (the network from a topology), `switches` (bridge
and ovs switch kinds), `controller` (the os-ken app), `handover`, `counters`, `fidelity`, `delay` (user-space
delay line), `clean` (leftovers by prefix and recorded PIDs). Everything here needs root and Linux; importing
this package does not (Mininet is imported only where a network is built)."""

from edgeroam.emulator.net.doctor import Feature, Report, diagnose

__all__ = ["Feature", "Report", "diagnose"]
