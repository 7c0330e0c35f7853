"""Partitioning a DNN between client and server, ordering the layer upload, and queries while uploading.

partition.py places layers (shortest path, min cut, Neurosurgeon), upload.py orders what is sent (efficiency,
IONN, recursive, direct, fraction cut), query.py turns an order into query timelines (PerDNN Table II, Fig.
7), planner.py memoises plans, orders and latencies per server load for a run.
The other papers' planners: eosdnn.py (EosDNN's local-edge-cloud migration: delay model, PSO-GA, GA, Greedy,
prePSO, cost model), lmu.py (EosDNN's Layer Merge Uploading, SD / SSD of any upload order), scheduling.py
(S3's edge-cloud scheduling: Single Cutting, Scheduling with Queuing), twostep.py (EosDNN's two-step
migration of inception modules), taxonomy.py (S2's classification of every planner, `edgeroam planners`).
The graphs and profiles come from emulator.dnn.
"""

from edgeroam.emulator.planning.partition import (
    Plan,
    PlanProblem,
    mincut_plan,
    neurosurgeon_plan,
    plan_cost,
    shortest_path_plan,
)
from edgeroam.emulator.planning.planner import PlanEntry, Planner
from edgeroam.emulator.planning.query import (
    TIMELINE_COLUMNS,
    executed_queries,
    query_latency,
    server_change_timeline,
    upload_steps,
    upload_timeline,
)
from edgeroam.emulator.planning.upload import (
    IONN_PENALTIES,
    ORDERS,
    UploadOrder,
    direct_order,
    efficiency_order,
    fraction_cut,
    ionn_order,
    recursive_order,
)

__all__ = [
    "IONN_PENALTIES",
    "ORDERS",
    "TIMELINE_COLUMNS",
    "Plan",
    "PlanEntry",
    "PlanProblem",
    "Planner",
    "UploadOrder",
    "direct_order",
    "efficiency_order",
    "executed_queries",
    "fraction_cut",
    "ionn_order",
    "mincut_plan",
    "neurosurgeon_plan",
    "plan_cost",
    "query_latency",
    "recursive_order",
    "server_change_timeline",
    "shortest_path_plan",
    "upload_steps",
    "upload_timeline",
]
