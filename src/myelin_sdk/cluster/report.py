"""What a submit did (or would do): one line per object."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

#: created | configured (the apply changed it) | unchanged | pruned | skipped (a create-once Workflow that
#: exists) | planned (``--dry-run=client``: nothing was asked of a cluster).
ACTIONS = ("created", "configured", "unchanged", "pruned", "skipped", "planned")


@dataclass(frozen=True)
class Change:
    kind: str
    name: str
    action: str
    namespace: str | None = None
    note: str = ""


@dataclass
class ApplyReport:
    """The objects of one submit in the order they were handled; ``dry_run`` is ``None``, ``"server"`` or
    ``"client"``."""

    axon: str
    changes: list[Change] = field(default_factory=list)
    dry_run: str | None = None

    def __iter__(self) -> Iterator[Change]:
        return iter(self.changes)

    def __len__(self) -> int:
        return len(self.changes)

    def add(self, kind: str, name: str, action: str, namespace: str | None = None, note: str = "") -> None:
        assert action in ACTIONS, action
        self.changes.append(Change(kind, name, action, namespace, note))

    def actions(self) -> dict[str, str]:
        """``{"Kind/name": action}``, for tests and scripts."""
        return {f"{c.kind}/{c.name}": c.action for c in self.changes}

    def counts(self) -> Counter[str]:
        return Counter(c.action for c in self.changes)

    def format(self) -> str:
        """A table (ACTION, KIND, NAME, NAMESPACE) and a summary line."""
        rows = [("ACTION", "KIND", "NAME", "NAMESPACE")] + [
            (c.action + (f" ({c.note})" if c.note else ""), c.kind, c.name, c.namespace or "")
            for c in self.changes
        ]
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        lines = [
            "  ".join(cell.ljust(w) for cell, w in zip(row[:3], widths, strict=True)) + "  " + row[3]
            for row in rows
        ]
        counts = self.counts()
        summary = ", ".join(f"{counts[a]} {a}" for a in ACTIONS if counts[a])
        suffix = {
            "server": " (server dry run: the API server checked every write; nothing was changed)",
            "client": " (client dry run: no cluster was contacted)",
        }.get(self.dry_run or "", "")
        lines.append(f"axon {self.axon}: {summary or 'nothing to do'}{suffix}")
        return "\n".join(line.rstrip() for line in lines) + "\n"
