"""Reports of run directories: summary tables (Markdown, CSV, JSON) and figures, one run or many side by side.

matplotlib is imported only when a figure is drawn.
"""

from edgeroam.report.build import Report, make_report
from edgeroam.report.figures import (
    backhaul_figure,
    fig9_figure,
    fig10_figure,
    latency_figure,
    save_figure,
    traffic_map_figure,
)
from edgeroam.report.tables import (
    SUMMARY_COLUMNS,
    ChangePick,
    backhaul_peaks,
    cell_traffic,
    expand_run_dirs,
    fig9_table,
    fig10_table,
    latency_timeline,
    load_runs,
    pick_server_change,
    representative_change,
    run_grid,
    run_labels,
    run_servers,
    summary_table,
    to_markdown,
)

__all__ = [
    "SUMMARY_COLUMNS",
    "ChangePick",
    "Report",
    "backhaul_figure",
    "backhaul_peaks",
    "cell_traffic",
    "expand_run_dirs",
    "fig9_figure",
    "fig9_table",
    "fig10_figure",
    "fig10_table",
    "latency_figure",
    "latency_timeline",
    "load_runs",
    "make_report",
    "pick_server_change",
    "representative_change",
    "run_grid",
    "run_labels",
    "run_servers",
    "save_figure",
    "summary_table",
    "to_markdown",
    "traffic_map_figure",
]
