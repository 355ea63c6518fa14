"""The commands that write files from what is published, or sample deliveries: dashboard, export, generate."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from txpipe.cli.app import SourceOption, app, read_settings
from txpipe.cli.output import console, line
from txpipe.settings import Settings

T = TypeVar("T")

PartnerOption = Annotated[str, typer.Option("--partner", help="Nation code (e.g. GEO): only its figures.")]


def _or_exit_2(make: Callable[..., T], settings: Settings, partner: str | None, *args: object) -> T:
    """Run an output-writing call; a blank or unknown nation or a missing warehouse exits 2 with the reason."""
    if partner is not None and not partner.strip():  # never the all-partner copy by mistake
        console.print(line(("--partner needs a nation code, e.g. GEO", "red")))
        raise typer.Exit(2)
    try:
        return make(settings, partner, *args)
    except (ValueError, FileNotFoundError) as error:
        console.print(line((error, "red")))
        raise typer.Exit(2) from None


@app.command()
def dashboard(
    partner: Annotated[str | None, typer.Option("--partner", help="Nation code: a copy with only its figures.")] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Where to write (default reports/dashboard[-CODE].html).")
    ] = None,
) -> None:
    """Write the offline dashboard (one self-contained HTML file) from the published warehouse."""
    from txpipe.outputs.dashboard import write_dashboard

    console.print(line("Dashboard: ", _or_exit_2(write_dashboard, read_settings(), partner, out)))


@app.command()
def export(
    partner: PartnerOption,
    out: Annotated[Path | None, typer.Option("--out", help="Folder (default marts/partner-CODE/).")] = None,
) -> None:
    """Export the marts scoped to one partner (Parquet and CSV): its own rows and overall totals only."""
    from txpipe.outputs.partner_export import export_partner_marts

    files = _or_exit_2(export_partner_marts, read_settings(), partner, out)
    console.print(line(f"Wrote {len(files)} files to ", files[0].parent))


@app.command()
def generate(
    out: Annotated[Path, typer.Argument(help="Landing root to write into (one folder per source).")],
    rows: Annotated[int, typer.Option(help="Total rows over all sources.")] = 3000,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same files.")] = 2026,
    defect_rate: Annotated[float, typer.Option(help="Share of rows given a planted defect (0-1).")] = 0.0,
    source: SourceOption = None,
    files: Annotated[int, typer.Option(help="Files per source.")] = 2,
    lrs: Annotated[
        int,
        typer.Option(
            help="Also write the e-learning source as an LRS export of this many xAPI "
            "statements (OUT/jadl-lrs/, JSON Lines)."
        ),
    ] = 0,
) -> None:
    """Write synthetic deliveries and the manifests of planted defects (.txpipe-generate.json, .txpipe-lrs.json)."""
    from txpipe.reference import load_reference
    from txpipe.samples.lrs import LRS_MANIFEST, LRS_SOURCE, write_lrs_export
    from txpipe.samples.rosters import SOURCES
    from txpipe.samples.rosters import generate as write_deliveries

    chosen = tuple(source) if source else SOURCES
    unknown = set(chosen) - {*SOURCES, LRS_SOURCE}
    if unknown:
        raise typer.BadParameter(f"unknown source(s) {sorted(unknown)}; choose from {(*SOURCES, LRS_SOURCE)}")
    settings = read_settings()
    reference = load_reference(settings.reference_dir)
    if rosters := tuple(name for name in chosen if name != LRS_SOURCE):
        manifest = write_deliveries(out, reference, rows, seed, defect_rate, rosters, files)
        console.print(
            line(
                f"Wrote {sum(manifest.files.values())} rows in {len(manifest.files)} files under {out} "
                f"({len(manifest.planted)} planted defects listed in {out / '.txpipe-generate.json'})"
            )
        )
    if lrs:
        path = out / LRS_SOURCE / f"{LRS_SOURCE.replace('-', '_')}_export.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        exported = write_lrs_export(path, reference, lrs, seed, defect_rate)
        (out / LRS_MANIFEST).write_text(
            json.dumps({k: v for k, v in exported.as_dict().items() if k != "path"}, indent=1), encoding="utf-8"
        )
        console.print(
            line(
                f"Wrote {exported.statements} xAPI statements to ",
                path,
                f" ({len(exported.planted)} planted defects listed in {out / LRS_MANIFEST})",
            )
        )
