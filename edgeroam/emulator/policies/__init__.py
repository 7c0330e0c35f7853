"""Migration policies: what the master decides each interval (DESIGN.md §3); pure, backend-agnostic."""

from edgeroam.emulator.policies.base import MasterView, Policy, current_plans, migrate_to
from edgeroam.emulator.policies.forward import PerDNNForwardPolicy, PerDNNTopKPolicy
from edgeroam.emulator.policies.fractional import FractionalPolicy
from edgeroam.emulator.policies.ionn import IONNPolicy
from edgeroam.emulator.policies.optimal import OptimalPolicy
from edgeroam.emulator.policies.oracle import OraclePolicy
from edgeroam.emulator.policies.perdnn import PerDNNPolicy
from edgeroam.emulator.policies.prob import ProbForwardPolicy
from edgeroam.emulator.policies.rank import RankForwardPolicy
from edgeroam.emulator.policies.selective import GatedForwardPolicy, SpeedForwardPolicy

__all__ = [
    "POLICIES",
    "FractionalPolicy",
    "GatedForwardPolicy",
    "IONNPolicy",
    "MasterView",
    "OptimalPolicy",
    "OraclePolicy",
    "PerDNNForwardPolicy",
    "PerDNNPolicy",
    "PerDNNTopKPolicy",
    "ProbForwardPolicy",
    "Policy",
    "RankForwardPolicy",
    "SpeedForwardPolicy",
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
    "perdnn-forward": PerDNNForwardPolicy,
    "perdnn-gated": GatedForwardPolicy,
    "perdnn-speed": SpeedForwardPolicy,
    "perdnn-prob": ProbForwardPolicy,
    "perdnn-rank": RankForwardPolicy,
}

#: policies that take ``-top<k>`` after their name (k targets nearest to the prediction)
TOP_K: dict[str, type] = {
    "perdnn": PerDNNTopKPolicy, "perdnn-forward": PerDNNForwardPolicy, "perdnn-gated": GatedForwardPolicy,
}


def make_policy(kind: str) -> Policy:
    """A new policy of `kind`, or ``<base>-top<k>`` for a base in `TOP_K`.

    An unknown kind raises ScenarioError naming ``policy.kind``.
    """
    from edgeroam.errors import ScenarioError

    base, sep, k = kind.rpartition("-top")
    if sep and base in TOP_K and k.isdigit() and int(k) >= 1:
        return TOP_K[base](int(k))
    if kind not in POLICIES:
        choices = ", ".join([*POLICIES, *(f"{b}-top<k>" for b in TOP_K)])
        raise ScenarioError(None, "policy.kind", f"unknown policy {kind!r}; choose one of {choices}")
    return POLICIES[kind]()
