"""Migration policies: what the master decides each interval (DESIGN.md §3); pure, backend-agnostic.

There is one policy family, `TargetPolicy` (targets.py), whose variants are parameters. Today's names are
aliases that expand to parameters (`ALIASES`; ``perdnn-top<k>``, ``perdnn-forward-top<k>`` and
``perdnn-gated-top<k>`` add ``targets = k``), so ``--policy perdnn-forward-top3`` and ``--set
policy.targets=3 --set policy.relay=true`` make the same policy. `policy_from_scenario` reads the scenario's
``[policy]`` table: ``kind`` names the alias, every other key is a parameter.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from edgeroam.emulator.policies.base import MasterView, Policy, current_plans
from edgeroam.emulator.policies.targets import TargetPolicy
from edgeroam.errors import ScenarioError

if TYPE_CHECKING:  # pragma: no cover
    from edgeroam.scenario import Scenario

__all__ = [
    "ALIASES",
    "TOP_K",
    "MasterView",
    "Policy",
    "TargetPolicy",
    "alias_params",
    "current_plans",
    "make_policy",
    "policy_from_scenario",
]

#: policy kind (scenario ``policy.kind``, CLI ``--policy``) -> the parameters it stands for
ALIASES: dict[str, dict[str, Any]] = {
    "perdnn": {},
    "fractional": {"fractional": True},
    "ionn": {"targets": 0, "from_scratch": True},
    "optimal": {"targets": 0, "everywhere": True},
    "oracle": {"predictor": "oracle"},
    "perdnn-forward": {"relay": True},
    "perdnn-gated": {"relay": True, "gate": True, "count_current": False},
    "perdnn-speed": {"relay": True, "count_current": False, "targets": 1, "targets_fast": 2, "v_split": 1.5},
    "perdnn-prob": {"relay": True, "rule": "probability", "tau": 0.05, "k_max": 3},
    "perdnn-rank": {"relay": True, "rule": "classifier", "tau": 0.11, "k_max": 5, "keep_m": 300.0},
    # the other papers' planners on the same traces: EosDNN's LMU order, S3's cut (reactive, and ahead)
    "lmu": {"targets": 0, "order": "lmu"},
    "perdnn-lmu": {"order": "lmu"},
    "s3": {"targets": 0, "split": "queue"},
    "s3-single": {"targets": 0, "split": "single"},
    "perdnn-s3": {"split": "queue"},
}

#: aliases that take ``-top<k>`` after their name (k targets nearest to the prediction)
TOP_K = ("perdnn", "perdnn-forward", "perdnn-gated")

#: ``[policy]`` keys that are not parameters
_NOT_PARAMS = {"kind"}


def alias_params(kind: str) -> dict[str, Any]:
    """The parameters `kind` stands for; an unknown kind raises ScenarioError naming ``policy.kind``.

    Examples
    --------
    >>> alias_params("perdnn-forward-top3")
    {'relay': True, 'targets': 3}
    """
    base, sep, k = kind.rpartition("-top")
    if sep and base in TOP_K and k.isdigit() and int(k) >= 1:
        return {**ALIASES[base], "targets": int(k)}
    if kind not in ALIASES:
        choices = ", ".join([*ALIASES, *(f"{b}-top<k>" for b in TOP_K)])
        raise ScenarioError(None, "policy.kind", f"unknown policy {kind!r}; choose one of {choices}")
    return dict(ALIASES[kind])


def make_policy(kind: str = "perdnn", **params: Any) -> TargetPolicy:
    """A new policy: the parameters of alias `kind`, then `params` on top.

    An unknown kind or parameter raises ScenarioError naming ``policy.<key>``.
    """
    merged = {**alias_params(kind), **params}
    known = TargetPolicy.param_names()
    for key in merged:
        if key not in known:
            raise ScenarioError(None, f"policy.{key}", f"unknown policy parameter; known: {', '.join(known)}")
    pol = TargetPolicy(**merged)
    pol.name = kind
    return pol


def policy_from_scenario(scenario: Scenario, kind: str | None = None) -> TargetPolicy:
    """The policy of a scenario's ``[policy]`` table (`kind` replaces ``policy.kind`` when given)."""
    table = scenario.policy.model_dump()
    params = {k: v for k, v in table.items() if k not in _NOT_PARAMS}
    return make_policy(kind or scenario.policy.kind, **params)
