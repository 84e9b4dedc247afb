"""Ordered SQL migrations, tracked in a table so that running them again is a no-op.

Each context contributes a folder of `NNNN_<name>.sql` files; all folders are merged and applied in
file-name order, each file in its own transaction together with its row in `schema_migrations`.
An advisory lock keeps two processes from migrating at once. A file that was applied and later
edited is refused (checksum mismatch): a migration that ran must never change, add a new one.
"""

import hashlib
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

import asyncpg

from events.errors import InfrastructureError

MIGRATIONS_LOCK_KEY = 7_240_001
MIGRATION_FILES_MAX = 1000

CREATE_TRACKING_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    TEXT        PRIMARY KEY,
    checksum   TEXT        NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)"""


@dataclass(frozen=True)
class Migration:
    version: str  # the file name without ".sql", e.g. "0001_event_store"
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode("utf-8")).hexdigest()


def migrations_in(folder: Traversable) -> list[Migration]:
    files = [item for item in folder.iterdir() if item.name.endswith(".sql")]
    if len(files) > MIGRATION_FILES_MAX:
        raise ValueError(f"more than {MIGRATION_FILES_MAX} migrations in {folder}")
    return [Migration(item.name.removesuffix(".sql"), item.read_text("utf-8")) for item in files]


def event_store_migrations() -> list[Migration]:
    return migrations_in(resources.files("events.store.sql").joinpath("migrations"))


def ordered(migrations: list[Migration]) -> list[Migration]:
    versions = [migration.version for migration in migrations]
    duplicates = {version for version in versions if versions.count(version) > 1}
    if duplicates:
        raise ValueError(f"migration versions defined twice: {sorted(duplicates)}")
    return sorted(migrations, key=lambda migration: migration.version)


async def apply_migrations(
    connection: asyncpg.Connection, migrations: list[Migration]
) -> list[str]:
    """Apply what is not applied yet; return the versions applied by this call."""
    applied_now: list[str] = []
    try:
        await connection.execute("SELECT pg_advisory_lock($1)", MIGRATIONS_LOCK_KEY)
        try:
            await connection.execute(CREATE_TRACKING_TABLE)
            rows = await connection.fetch("SELECT version, checksum FROM schema_migrations")
            applied = {row["version"]: row["checksum"] for row in rows}
            for migration in ordered(migrations):
                if migration.version in applied:
                    if applied[migration.version] != migration.checksum:
                        raise ValueError(
                            f"migration {migration.version} changed after it was applied; "
                            "add a new migration instead of editing an applied one"
                        )
                    continue
                async with connection.transaction():
                    await connection.execute(migration.sql)
                    await connection.execute(
                        "INSERT INTO schema_migrations (version, checksum) VALUES ($1, $2)",
                        migration.version,
                        migration.checksum,
                    )
                applied_now.append(migration.version)
        finally:
            await connection.execute("SELECT pg_advisory_unlock($1)", MIGRATIONS_LOCK_KEY)
    except asyncpg.PostgresError as error:
        raise InfrastructureError(f"migration failed: {error}") from error
    return applied_now
