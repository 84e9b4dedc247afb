"""Named SQL statements kept in `.sql` files beside the adapter that runs them.

A file holds blocks that start with `-- name: <method_name>`; the block's text up to the next name
is the statement. Files are read once at import, so a missing block fails at start-up,
not mid-request.
"""

import re
from importlib import resources

_NAME_LINE = re.compile(r"^-- name: ([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)


def load_statements(package: str, filename: str) -> dict[str, str]:
    text = resources.files(package).joinpath(filename).read_text(encoding="utf-8")
    parts = _NAME_LINE.split(text)
    statements: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in statements:
            raise ValueError(f"{package}/{filename}: statement {name!r} defined twice")
        statements[name] = body.strip()
    return statements
