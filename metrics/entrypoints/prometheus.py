"""The Prometheus text exposition of the metrics (format 0.0.4). Pure: data in, text out."""

from collections.abc import Mapping, Sequence

from events.streaming.consumers import PartitionState
from metrics.domain.rules import COUNTERS

HELP = {
    "filed_online": "Dossiers filed online",
    "filed_counter": "Dossiers filed at the counter",
    "fee_bearing_filed": "Dossiers filed that carry a fee",
    "checkout_attempts": "Online payment attempts (gateway checkouts)",
    "paid_online": "Fee-bearing dossiers paid online",
    "paid_counter": "Fee-bearing dossiers paid at the counter",
    "paid_online_minor": "VND paid online",
    "paid_counter_minor": "VND paid at the counter",
    "refunds": "Refunds issued",
    "refunds_minor": "VND refunded",
}


def _label(value: str) -> str:
    """Escape a label value: backslash, double quote and newline."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _partition_lines(partitions: Sequence[PartitionState]) -> list[str]:
    position, idle = "fees_consumer_partition_position", "fees_consumer_partition_idle_seconds"
    lines = [f"# HELP {position} The store position a consumer last applied on a partition; one "
             "that stays while the head moves on is stalled.",
             f"# TYPE {position} gauge",
             f"# HELP {idle} Seconds since a batch last moved a consumer on a partition.",
             f"# TYPE {idle} gauge"]  # fmt: skip
    for state in partitions:
        labels = (f'consumer="{_label(state.consumer_name)}",topic="{_label(state.topic)}",'
                  f'partition="{state.partition}"')  # fmt: skip
        lines += [f"{position}{{{labels}}} {state.last_position}",
                  f"{idle}{{{labels}}} {state.idle_s:.1f}"]  # fmt: skip
    return lines


def exposition(
    by_unit: Sequence[tuple[str, str, Mapping[str, int]]],
    dead_letters: Mapping[str, int],
    head_position: int,
    partitions: Sequence[PartitionState],
) -> str:
    lines: list[str] = []
    for counter in COUNTERS:
        name = f"fees_{counter}_total"
        lines += [f"# HELP {name} {HELP[counter]}.", f"# TYPE {name} counter"]
        for unit, level, counts in by_unit:
            lines.append(
                f'{name}{{unit="{_label(unit)}",level="{_label(level)}"}} {counts[counter]}'
            )
    lines += ["# HELP fees_dead_letters_total Messages a consumer could not process.",
              "# TYPE fees_dead_letters_total counter"]  # fmt: skip
    for consumer, count in sorted(dead_letters.items()):
        lines.append(f'fees_dead_letters_total{{consumer="{_label(consumer)}"}} {count}')
    lines += ["# HELP fees_consumer_lag_events Store positions between the head and the most "
              "advanced partition a consumer applied (a lower bound: a stalled partition shows "
              "in fees_consumer_partition_position).",
              "# TYPE fees_consumer_lag_events gauge"]  # fmt: skip
    highest: dict[str, int] = {}
    for state in partitions:
        highest[state.consumer_name] = max(highest.get(state.consumer_name, 0), state.last_position)
    for consumer, position in sorted(highest.items()):
        lines.append(f'fees_consumer_lag_events{{consumer="{_label(consumer)}"}} '
                     f"{max(0, head_position - position)}")  # fmt: skip
    lines += _partition_lines(partitions)
    lines += ["# HELP fees_event_store_head_position The store's last global position.",
              "# TYPE fees_event_store_head_position gauge",
              f"fees_event_store_head_position {head_position}"]  # fmt: skip
    return "\n".join(lines) + "\n"
