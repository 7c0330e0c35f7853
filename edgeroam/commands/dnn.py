"""`edgeroam dnn`: inspect zoo models (layers, sizes, FLOPs), their per-layer profiles and (C2) plans."""

from __future__ import annotations

import importlib
import importlib.util
import json

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    help="DNN models as layer graphs: info, per-layer profiles, partition plans.", no_args_is_help=True
)

_MODEL_HELP = (
    "Zoo model: mobilenet_v1, inception_21k, resnet50, alexnet, vgg19, googlenet, resnet18, resnet101, "
    "tiny_yolo, darknet19 (aliases mobilenet, inception, resnet)."
)


@app.command()
def info(
    model: str = typer.Argument(..., help=_MODEL_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON to stdout."),
) -> None:
    """Layers, weight MB, FLOPs and per-op counts of MODEL, beside PerDNN Table I where the paper has it."""
    from edgeroam.emulator.dnn.zoo import model_info

    d = model_info(model)
    if as_json:
        typer.echo(json.dumps(d, indent=2))
        return
    console = Console()
    t = Table(title=f"{d['model']}  (input {'x'.join(map(str, d['input_shape']))}, "
              f"{'chain' if d['chain'] else 'DAG'}, {d['edges']} edges)")
    t.add_column("quantity")
    t.add_column("edgeroam", justify="right")
    t.add_column("PerDNN Table I", justify="right")
    paper = d["paper"] or {}
    caffe = d["caffe_layers"]
    t.add_row("layers (our nodes: conv, bn, relu, ...)", str(d["layers"]), "")
    t.add_row(
        f"layers as caffe counts them (+{caffe['layers'] - d['layers']} BN→BN+Scale/flatten, "
        f"+1 input, +{caffe['splits']} split)",
        str(caffe["total"]), str(paper.get("layers", "–")),
    )
    t.add_row("weights (MiB = 2^20 B; PerDNN's MB)", f"{d['weight_mib']:.1f}", str(paper.get("size_mb", "–")))
    t.add_row("weights (bytes)", f"{d['weight_bytes']:,}", "")
    t.add_row("GFLOPs (MAC = 2 FLOPs)", f"{d['gflops']:.2f}", "")
    t.add_row("input bytes / largest layer output", f"{d['input_bytes']:,} / {d['max_out_bytes']:,}", "")
    t.add_row("ops", ", ".join(f"{k} {v}" for k, v in d["ops"].items()), "")
    console.print(t)


@app.command()
def profile(
    model: str = typer.Argument(..., help=_MODEL_HELP),
    device: str = typer.Option(
        "titan-xp", "--device", "-d",
        help="Device preset (odroid-xu4, titan-xp, i7-7700, rpi-3b, rtx-2080ti, titan-x, i7-4790k-1core, "
        "eosdnn-client/edge/cloud) or 'measure' to run each layer with torch on this machine.",
    ),
    reps: int = typer.Option(5, help="Repetitions per layer when measuring (median is kept)."),
    cpu_quota: float = typer.Option(
        0.0, help="When measuring: limit this process to this fraction of one CPU (cgroup cpu.max; 0 = off)."
    ),
    top: int = typer.Option(10, help="Rows of the slowest layers to show."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (every layer) to stdout."),
) -> None:
    """Per-layer execution time of MODEL on a device preset, or measured here."""
    import numpy as np

    from edgeroam.emulator.dnn.profiles import measure_profile, profile_table

    if device == "measure":
        from edgeroam.emulator.dnn.zoo import model_graph

        graph = model_graph(model)
        with Console(stderr=True).status(f"measuring {graph.n_layers} layers of {graph.name} ..."):
            seconds = measure_profile(graph, reps=reps, cpu_quota=cpu_quota or None)
        df = profile_table(graph, seconds)
    else:
        df = profile_table(model, device)
    if as_json:
        out = {"model": df.attrs["model"], "device": device, "total_s": float(df["seconds"].sum()),
               "layers": df.to_dict(orient="records")}
        typer.echo(json.dumps(out, indent=2))
        return
    console = Console()
    by_op = df.groupby("op")["seconds"].agg(["count", "sum"]).sort_values("sum", ascending=False)
    t = Table(title=f"{df.attrs['model']} on {device}: {df['seconds'].sum() * 1e3:.2f} ms per inference")
    for c in ("op", "layers", "ms", "share"):
        t.add_column(c, justify="left" if c == "op" else "right")
    total = max(float(df["seconds"].sum()), 1e-12)
    for op, row in by_op.iterrows():
        t.add_row(str(op), str(int(row["count"])), f"{row['sum'] * 1e3:.3f}", f"{row['sum'] / total:.1%}")
    console.print(t)
    slow = df.iloc[np.argsort(-df["seconds"].to_numpy(), kind="stable")[:top]]
    t2 = Table(title=f"slowest {len(slow)} layers")
    for c in ("#", "layer", "op", "MFLOPs", "weights KiB", "ms"):
        t2.add_column(c, justify="left" if c in ("layer", "op") else "right")
    for i, row in slow.iterrows():
        t2.add_row(
            str(i), row["name"], row["op"], f"{row['flops'] / 1e6:.1f}", f"{row['weight_bytes'] / 1024:.0f}",
            f"{row['seconds'] * 1e3:.3f}",
        )
    console.print(t2)


@app.command()
def fig4(
    model: str = typer.Option("resnet18", help="Model whose conv layers are timed under load."),
    clients: int = typer.Option(6, help="Largest number of concurrent clients (1 = the measuring one)."),
    reps: int = typer.Option(12, help="Executions of every layer per load level."),
    seed: int = typer.Option(0, help="Seed of the inputs, the layer order and the train/test split."),
    out: str = typer.Option(".cache/dnn/fig4.png", help="Where to write the figure (PNG)."),
    as_json: bool = typer.Option(False, "--json", help="Print the MAE table and importances as JSON."),
) -> None:
    """PerDNN Fig. 4 here: MAE of LL, LL w/ load and RF w/ load vs number of clients (conv layers)."""
    from pathlib import Path

    from edgeroam._progress import progress_bar
    from edgeroam.emulator.dnn.estimator import compare_estimators, generate_load_dataset, gpu_stats_available

    with progress_bar(transient=True) as bar:
        task = bar.add_task("timing layers under load", total=clients)
        df = generate_load_dataset(model, max_clients=clients, reps=reps, seed=seed,
                                   progress=lambda done, total: bar.update(task, completed=done))
    cmp = compare_estimators(df, seed=seed)
    mae_us = cmp.mae * 1e6
    _plot_fig4(mae_us, cmp.importances, Path(out))
    if as_json:
        typer.echo(json.dumps({
            "model": model, "samples": len(df), "gpu_stats": gpu_stats_available()[1],
            "mae_us": {str(k): v for k, v in mae_us.round(1).to_dict(orient="index").items()},
            "importances": cmp.importances.round(4).to_dict(), "figure": out,
        }, indent=2))
        return
    t = Table(title=f"MAE (us) of conv-layer time estimates vs clients ({len(df)} executions of {model}; "
              f"train {cmp.n_train} / test {cmp.n_test})")
    t.add_column("clients", justify="right")
    for c in mae_us.columns:
        t.add_column(c, justify="right")
    for k, row in mae_us.iterrows():
        t.add_row(str(k), *[f"{v:.0f}" for v in row])
    Console().print(t)
    Console().print("RF importances: " + ", ".join(f"{k} {v:.2f}" for k, v in cmp.importances.items()))
    Console().print(f"GPU statistics: {gpu_stats_available()[1]}; figure written to {out}")


def _plot_fig4(mae_us, importances, path) -> None:  # noqa: ANN001
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.8), gridspec_kw={"width_ratios": [3, 2]})
    for col, style in (("LL", "o-"), ("LL w/ load", "s-"), ("RF w/ load", "^-"), ("RF w/o load", "x--")):
        a.plot(mae_us.index, mae_us[col], style, label=col)
    a.set_xticks(list(mae_us.index))  # whole numbers of clients
    a.set_xlabel("concurrent clients on the server")
    a.set_ylabel("MAE of the layer execution time (µs)")
    a.set_title("Estimation error vs load (PerDNN Fig. 4)", fontsize=10)
    a.legend()
    importances.iloc[::-1].plot.barh(ax=b)
    b.set_xlabel("RF feature importance")
    b.set_title("What the random forest uses", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


# `edgeroam dnn plan` lives in its own module (planning's owner); mount it when it is there
if importlib.util.find_spec("edgeroam.commands.dnn_plan") is not None:
    importlib.import_module("edgeroam.commands.dnn_plan").register(app)
