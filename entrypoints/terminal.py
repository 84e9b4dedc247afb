"""The one rich console every command prints to."""

import sys

from rich.console import Console

# Piped output (CI logs, `| tee`) gets a readable width instead of rich's default 80 columns.
console = Console(stderr=False, width=None if sys.stdout.isatty() else 150)
