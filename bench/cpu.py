"""CPU seconds spent by this process, its children and the local servers (Linux /proc)."""

import os
import resource
from contextlib import suppress
from pathlib import Path


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_cpu_s(marker: bytes) -> float:
    """CPU seconds so far of every process whose command line holds `marker` (the servers run
    on this machine; a process that ends between the scan and the read counts as 0)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with suppress(OSError, ValueError, IndexError):
                if marker in (entry / "cmdline").read_bytes():
                    total += cpu_s(int(entry.name))
    return total


def own_cpu_s() -> tuple[float, float]:
    """CPU seconds of this process and of its children that have ended (forked workers): in all,
    and in the kernel (page faults, mostly, when a process touches new memory)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    kernel = own.ru_stime + children.ru_stime
    return own.ru_utime + children.ru_utime + kernel, kernel
