"""`edgeroam predict …`: train a mobility predictor, score it (PerDNN Table III), run the n/t study (Fig. 6).

A thin shell over `edgeroam.predictors.evaluate` and `edgeroam.predictors.study`: parse, call, render (rich).
"""

from __future__ import annotations

import json
import warnings
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import Progress, TaskID
from rich.table import Table

from edgeroam.commands._options import ROOT_HELP, SCENARIO_HELP, SET_HELP, root_override
from edgeroam.errors import EdgeroamError
from edgeroam.predictors import PREDICTORS

__all__ = ["app"]

app = typer.Typer(
    help="Mobility predictors: train, evaluate (PerDNN Table III), and the n/t study (Fig. 6).",
    no_args_is_help=True,
)

_ROOT = typer.Option(None, "--root", help=ROOT_HELP)


#: predictors the CLI can train: every kind of edgeroam.predictors.PREDICTORS
Kind = StrEnum("Kind", {k.replace("-", "_"): k for k in PREDICTORS})


def _scenario(path: Path, overrides: list[str], root: Path | None) -> Any:
    from edgeroam.scenario import load_scenario

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return load_scenario(path, root_override(root) + list(overrides))


def _prepare(sc: Any, bar: Progress, task: TaskID) -> Any:
    """Load the scenario's windows (one step of `task`)."""
    from edgeroam.predictors.evaluate import prepare_data

    bar.update(task, description=f"loading {sc.dataset.kind} (region, resampling, windows)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        data = prepare_data(sc)
    bar.advance(task)
    return data


def _bar() -> Progress:
    from edgeroam._progress import progress_bar

    return progress_bar(transient=True, note=True)


def _train(kind: str, data: Any, sc: Any, bar: Progress, task: TaskID) -> tuple[Any, float]:
    """Train one predictor (one step of `task`); epochs (LSTM) get their own bar."""
    from edgeroam.predictors.evaluate import train_predictor

    bar.update(task, description=f"training {kind}")
    epochs = bar.add_task(f"  {kind} epochs", total=None, note="", visible=False)

    def on_epoch(epoch: int, total: int, loss: float) -> None:
        bar.update(epochs, completed=epoch, total=total, note=f"val MAE {loss:.4f} (z)", visible=True)

    model, fit_s = train_predictor(kind, data, sc, callback=on_epoch)
    bar.remove_task(epochs)
    return model, fit_s


def _f(v: Any, fmt: str = ".1f") -> str:
    return "—" if v is None or (isinstance(v, float) and v != v) else f"{v:{fmt}}"


@app.command()
def train(
    scenario: Path = typer.Argument(..., help=SCENARIO_HELP),
    predictor: Kind = typer.Option(Kind.svr, "--predictor", "-p", help="Which predictor to train."),
    out: Path = typer.Option(..., "--out", "-o", help="Model file to write (.npz; LSTM: .safetensors)."),
    set_: list[str] = typer.Option([], "--set", help=SET_HELP),
    root: Path | None = _ROOT,
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON."),
) -> None:
    """Train a predictor on the scenario's train users and save it (no pickle)."""
    console = Console(stderr=as_json)
    sc = _scenario(scenario, set_, root)
    with _bar() as bar:
        task = bar.add_task("", total=2, note="")
        data = _prepare(sc, bar, task)
        model, fit_s = _train(predictor.value, data, sc, bar, task)
        bar.advance(task)
    try:
        path = model.save(out)
    except OSError as exc:
        raise EdgeroamError(f"{out}: cannot write the model ({exc.strerror or exc})") from None
    summary = {"predictor": predictor.value, "out": str(path), "fit_s": fit_s, **data.info}
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    console.print(
        f"[green]trained[/] {predictor.value} on {data.info['train_windows']:,} windows of "
        f"{data.info['train_users']} users in {fit_s:.2f} s → {path}"
    )


def _render(info: dict, rows: dict[str, dict], console: Console) -> None:
    t = Table(
        title=f"Table III protocol: {info['scenario']} (t = {info['interval_s']:g} s, n = {info['n']}, "
        f"{info['test_users']} test users, {info['servers']} servers)"
    )
    for col in ("predictor", "top-1 %", "top-2 %", "MAE m", "MAE moves m", "scored", "predictions", "fit s"):
        t.add_column(col, justify="left" if col == "predictor" else "right")
    for kind, r in rows.items():
        p = r["pooled"]
        t.add_row(
            kind,
            _f(p["top1"]),
            _f(p["top2"]),
            _f(p["mae_m"]),
            _f(p["mae_nonfutile_m"]),
            f"{p['non_futile']:,}",
            f"{p['predictions']:,}",
            _f(r.get("fit_s"), ".2f"),
        )
    console.print(t)
    console.print(
        "scored = non-futile predictions (the user changes server one interval later); MAE over all "
        "predictions, 'MAE moves' over the scored ones."
    )


@app.command()
def evaluate(
    scenario: Path = typer.Argument(..., help=SCENARIO_HELP),
    predictor: list[Kind] = typer.Option(
        None, "--predictor", "-p",
        help="Predictor(s) to train and score (repeatable; default: markov, svr, lstm, stay, velocity).",
    ),
    model: Path | None = typer.Option(None, "--model", help="Score a saved model instead of training one."),
    per_user: bool = typer.Option(False, "--per-user", help="Also print the per-user table."),
    set_: list[str] = typer.Option([], "--set", help=SET_HELP),
    root: Path | None = _ROOT,
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON."),
) -> None:
    """Train on the train users, score on the test users: top-1, top-2, MAE and counts (PerDNN Table III)."""
    from edgeroam.predictors import load_predictor
    from edgeroam.predictors.evaluate import evaluate_on

    console = Console(stderr=as_json)
    sc = _scenario(scenario, set_, root)
    rows: dict[str, dict] = {}
    kinds = [k.value for k in predictor] if predictor else ["markov", "svr", "lstm", "stay", "velocity"]
    with _bar() as bar:
        # one step to load, then one per predictor (train and score)
        task = bar.add_task("", total=1 + (1 if model is not None else len(kinds)), note="")
        data = _prepare(sc, bar, task)
        if model is not None:
            bar.update(task, description=f"scoring {model.name}")
            m = load_predictor(model)
            ev = evaluate_on(m, data)
            rows[m.kind] = {"pooled": ev.pooled, "fit_s": None, "per_user": ev.per_user}
            bar.advance(task)
        else:
            for kind in kinds:
                m, fit_s = _train(kind, data, sc, bar, task)
                bar.update(task, description=f"scoring {kind}")
                ev = evaluate_on(m, data)
                rows[kind] = {"pooled": ev.pooled, "fit_s": fit_s, "per_user": ev.per_user}
                bar.advance(task)
    if as_json:
        out = {
            "info": data.info,
            "results": {
                k: {
                    "pooled": r["pooled"],
                    "fit_s": r["fit_s"],
                    **(
                        {"per_user": json.loads(r["per_user"].reset_index().to_json(orient="records"))}
                        if per_user
                        else {}
                    ),
                }
                for k, r in rows.items()
            },
        }
        typer.echo(json.dumps(out, indent=2))
        return
    _render(data.info, rows, console)
    if per_user:
        for kind, r in rows.items():
            t = Table(title=f"{kind}: per test user")
            for col in ("user", "top-1 %", "top-2 %", "MAE m", "scored", "predictions"):
                t.add_column(col, justify="left" if col == "user" else "right")
            for user, u in r["per_user"].iterrows():
                t.add_row(
                    str(user),
                    _f(u["top1"]),
                    _f(u["top2"]),
                    _f(u["mae_m"]),
                    f"{int(u['non_futile'])}",
                    f"{int(u['predictions'])}",
                )
            console.print(t)


@app.command()
def study(
    scenario: Path = typer.Argument(..., help=SCENARIO_HELP),
    predictor: Kind = typer.Option(Kind.svr, "--predictor", "-p", help="Predictor to study (PerDNN: svr)."),
    out: Path = typer.Option(Path("runs/study"), "--out", "-o", help="Folder for the figure and CSV tables."),
    set_: list[str] = typer.Option([], "--set", help=SET_HELP),
    root: Path | None = _ROOT,
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON."),
) -> None:
    """PerDNN Fig. 6: MAE vs n (t = 15–30 s), futile ratio / MAE / benefit-cost vs t (15–60 s), best t."""
    from edgeroam.predictors.study import plot_study, run_study

    console = Console(stderr=as_json)
    sc = _scenario(scenario, set_, root)
    with _bar() as bar, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        task = bar.add_task(f"n/t study ({predictor.value})", total=None, note="")
        result = run_study(
            sc,
            kind=predictor.value,
            progress=lambda done, total, note: bar.update(task, completed=done, total=total, note=note),
        )
    folder = out / sc.name
    folder.mkdir(parents=True, exist_ok=True)
    fig = plot_study(result, folder / "fig6.png")
    result.by_n.to_csv(folder / "mae_by_n.csv", index=False)
    result.by_t.to_csv(folder / "by_t.csv")
    if as_json:
        typer.echo(json.dumps({**result.to_dict(), "figure": str(fig)}, indent=2))
        return
    pivot = result.by_n.pivot(index="n", columns="interval_s", values="mae_m")
    t = Table(title=f"{sc.name}: MAE (m) vs n, per interval t (all test predictions)")
    t.add_column("n", justify="right")
    for col in pivot.columns:
        t.add_column(f"t = {col:g} s", justify="right")
    for n, row in pivot.iterrows():
        t.add_row(str(n), *(_f(v) for v in row))
    console.print(t)
    t2 = Table(title=f"{sc.name}: futility and benefit/cost vs t (n = {result.info['n_for_t']})")
    for col in ("t s", "predictions", "futile", "futile ratio", "MAE m", "a", "a(p-f)/p"):
        t2.add_column(col, justify="right")
    for ts, r in result.by_t.iterrows():
        t2.add_row(
            f"{ts:g}",
            f"{int(r['p']):,}",
            f"{int(r['f']):,}",
            _f(r["futile_ratio"], ".3f"),
            _f(r["mae_m"]),
            _f(r["a"], ".3f"),
            _f(r["benefit_cost"], ".3f"),
        )
    console.print(t2)
    console.print(
        f"best t (max benefit/cost): [bold]{result.best_t:g} s[/] (PerDNN, Geolife: 20 s); figure: {fig}"
    )
