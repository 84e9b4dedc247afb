"""The one rich console every command prints to, its progress bar, and how a command runs."""

import asyncio
import sys
from collections.abc import Coroutine
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from events.errors import EventStoreError

# Piped output (CI logs, `| tee`) gets a readable width instead of rich's default 80 columns.
console = Console(stderr=False, width=None if sys.stdout.isatty() else 150)


def progress_bar(label: str, on: Console = console) -> Progress:
    """The progress bar of long work: what, how far (n of m), for how long."""
    return Progress(
        TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=on
    )


def run_command(coroutine: Coroutine[Any, Any, int]) -> None:
    """Run an async command; a refusal (an expected error of the store or of an audit) prints
    one clear line and exits 2; otherwise exit with the command's own code."""
    try:
        code = asyncio.run(coroutine)
    except EventStoreError as error:
        console.print(f"[red]error[/red] ({error.code}): {error}")
        raise typer.Exit(2) from error
    raise typer.Exit(code)
