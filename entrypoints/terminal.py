"""The one rich console every command prints to."""

import sys

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

# Piped output (CI logs, `| tee`) gets a readable width instead of rich's default 80 columns.
console = Console(stderr=False, width=None if sys.stdout.isatty() else 150)


def progress_bar(label: str, on: Console = console) -> Progress:
    """The progress bar of long work: what, how far (n of m), for how long."""
    return Progress(
        TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=on
    )
