"""Migration policies: what the master decides each interval (DESIGN.md §3); pure, backend-agnostic."""

from edgeroam.emulator.policies.base import MasterView, Policy, current_plans, migrate_to
from edgeroam.emulator.policies.fractional import FractionalPolicy
from edgeroam.emulator.policies.ionn import IONNPolicy
from edgeroam.emulator.policies.optimal import OptimalPolicy
from edgeroam.emulator.policies.oracle import OraclePolicy
from edgeroam.emulator.policies.perdnn import PerDNNPolicy

__all__ = [
    "POLICIES",
    "FractionalPolicy",
    "IONNPolicy",
    "MasterView",
    "OptimalPolicy",
    "OraclePolicy",
    "PerDNNPolicy",
    "Policy",
    "current_plans",
    "make_policy",
    "migrate_to",
]

#: policy kind (scenario ``policy.kind``, CLI ``--policy``) -> class
POLICIES: dict[str, type] = {
    "perdnn": PerDNNPolicy,
    "fractional": FractionalPolicy,
    "ionn": IONNPolicy,
    "optimal": OptimalPolicy,
    "oracle": OraclePolicy,
}


def make_policy(kind: str) -> Policy:
    """A new policy of `kind` (an unknown kind raises ScenarioError naming ``policy.kind``)."""
    from edgeroam.errors import ScenarioError

    if kind not in POLICIES:
        choices = ", ".join(POLICIES)
        raise ScenarioError(None, "policy.kind", f"unknown policy {kind!r}; choose one of {choices}")
    return POLICIES[kind]()
