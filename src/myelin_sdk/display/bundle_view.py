"""A compiled bundle as a table (kind, name, what it does) and one manifest's YAML with syntax colour.

Everything is read from the manifests' own fields, labels and annotations (no I/O)::

    >>> print(bundle_text(bundle))                                   # doctest: +SKIP
    bundle of axon ml-rec: 19 manifests
    KIND              NAME                                  WHAT
    WorkflowTemplate  ml-rec-train-myelin-recommender       runs task TrainMyelinRecommender (build image, …
    Sensor            ml-rec-deployment-decision-maker      on TrainMyelinRecommender Succeeded → runs ...
    >>> find(bundle, "Sensor/deployment-decision-maker")["kind"]     # doctest: +SKIP
    'Sensor'

A key is ``Kind/name`` (the full name, the name without the ``<axon>-`` prefix, or the object's Myelin name),
``Kind/prefix`` when one name of that kind starts with it, or a name alone when it is unique.
"""

from __future__ import annotations

import difflib
import html
import io
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import MyelinError
from ..yamlio import dump

if TYPE_CHECKING:
    from ..compiler.bundle import Bundle

Manifest = dict[str, Any]

_NAME = "myelin.io/name"
_QUERY = re.compile(r"'--query', '((?:[^'\\]|\\.)*)'")


def _labels(m: Mapping[str, Any]) -> dict[str, str]:
    return dict(m.get("metadata", {}).get("labels") or {})


def _myelin_name(m: Mapping[str, Any]) -> str:
    return str((m.get("metadata", {}).get("annotations") or {}).get(_NAME) or m["metadata"]["name"])


def _unanchored(values: Sequence[Any]) -> str:
    """``['^Succeeded$', '^Failed$']`` -> ``Succeeded|Failed`` (the compiler anchors exact matches)."""
    return "|".join(str(v).removeprefix("^").removesuffix("$") for v in values)


class _Index:
    """The bundle's manifests by kind and name, to name what a manifest refers to."""

    def __init__(self, manifests: Iterable[Manifest]) -> None:
        self.by_name: dict[tuple[str, str], Manifest] = {
            (m["kind"], m["metadata"]["name"]): m for m in manifests
        }

    def get(self, kind: str, name: str) -> Manifest | None:
        return self.by_name.get((kind, name))

    def of_kind(self, kind: str) -> list[Manifest]:
        return [m for (k, _), m in self.by_name.items() if k == kind]


def _steps(template: Mapping[str, Any]) -> list[dict[str, Any]]:
    templates = template.get("spec", {}).get("templates", [])
    main: Mapping[str, Any] = next((t for t in templates if t.get("name") == "main"), {})
    return [step for group in main.get("steps") or [] for step in group]


def _gate_query(template: Mapping[str, Any], name: str) -> str | None:
    for t in template.get("spec", {}).get("templates", []):
        if t.get("name") == name:
            found = _QUERY.search(str(t.get("script", {}).get("source", "")))
            return found.group(1) if found else None
    return None


def _sensor_steps(template: Mapping[str, Any], index: _Index) -> str:
    """``DataPrep → Train``, ``gate rmse < 0.95 → deploy recommenderdeployer``."""
    parts: list[str] = []
    for step in _steps(template):
        ref = step.get("templateRef")
        if ref:
            target = index.get("WorkflowTemplate", ref.get("name", ""))
            part = _myelin_name(target) if target else str(ref.get("name"))
        elif str(step.get("template", "")).startswith("gate-"):
            query = _gate_query(template, step["template"])
            part = f"Metric gate ({query})" if query else "Metric gate"
        else:
            name = str(step.get("template", step.get("name")))
            deployer, _, action = name.rpartition("-")
            part = f"deploy {deployer}" if action in ("select", "apply", "commit") and deployer else name
        if not parts or parts[-1] != part:
            parts.append(part)
    return " → ".join(parts)


def _workflow_template(m: Manifest, index: _Index) -> str:
    labels = _labels(m)
    if "myelin.io/task" in labels:
        templates = {t.get("name"): t for t in m.get("spec", {}).get("templates", [])}
        names: list[str] = []
        for step in _steps(m):  # a Lifecycle-notifying task nests its steps in one template
            inner = templates.get(step.get("template"), {}).get("steps")
            names += (
                [str(s.get("template")) for g in inner for s in g] if inner else [str(step.get("template"))]
            )
        steps = ", ".join(n.replace("-", " ") for n in names if n not in ("notify", "fail"))
        steps += "; sends its Lifecycle event" if "notify" in names else ""
        return f"runs task {_myelin_name(m)}" + (f" ({steps})" if steps else "")
    if "myelin.io/sensor" in labels:
        return f"steps of sensor {_myelin_name(m)}: {_sensor_steps(m, index)}"
    if "myelin.io/deployer" in labels:
        action = m["metadata"]["name"].rpartition("-")[2]
        return f"{action} for deployer {labels['myelin.io/deployer']} (select, apply, commit)"
    return f"{len(_steps(m))} step(s)"


def _trigger(dep: Mapping[str, Any], index: _Index) -> str:
    """One Sensor dependency as the trigger it came from."""
    filters = {f.get("path"): f.get("value", []) for f in (dep.get("filters") or {}).get("data", [])}
    if "body.task" in filters:
        return f"{_unanchored(filters['body.task'])} {_unanchored(filters.get('body.phase', []))}".strip()
    if "body.commonLabels.alertname" in filters:
        alert = _unanchored(filters["body.commonLabels.alertname"])
        for rule_set in index.of_kind("PrometheusRule"):
            for group in rule_set.get("spec", {}).get("groups", []):
                for rule in group.get("rules", []):
                    if rule.get("alert") == alert:
                        return f"alert {rule.get('expr')}"
        return f"alert {alert}"
    source = index.get("EventSource", str(dep.get("eventSourceName")))
    event = str(dep.get("eventName"))
    spec = (source or {}).get("spec", {})
    if event in spec.get("webhook", {}):
        hook = spec["webhook"][event]
        return f"{hook.get('method', 'POST')} {hook.get('endpoint', '/' + event)}"
    if event in spec.get("calendar", {}):
        entry = spec["calendar"][event]
        when = entry.get("schedule") or f"every {entry.get('interval')}"
        return f"calendar {when}"
    return f"event {dep.get('eventSourceName')}/{event}"


def _sensor(m: Manifest, index: _Index) -> str:
    triggers = " or ".join(_trigger(d, index) for d in m.get("spec", {}).get("dependencies", []))
    return f"on {triggers or 'no trigger'} → runs {_myelin_name(m)}"


def _event_source(m: Manifest) -> str:
    spec = m.get("spec", {})
    parts = [
        f"{e} ({v.get('method', 'POST')} {v.get('endpoint')})" for e, v in spec.get("webhook", {}).items()
    ]
    parts += [
        f"{e} ({v.get('schedule') or 'every ' + str(v.get('interval'))})"
        for e, v in spec.get("calendar", {}).items()
    ]
    kind = "webhook" if "webhook" in spec else "calendar"
    return f"{kind} events: " + ", ".join(parts)


def _role(m: Manifest) -> str:
    resources = [res for r in m.get("rules", []) for res in r.get("resources", []) if "/" not in res]
    return "lets the axon's workflows use " + ", ".join(dict.fromkeys(resources))


def _seldon(m: Manifest) -> str:
    predictors = m.get("spec", {}).get("predictors", [])
    split = ", ".join(
        f"{p.get('name')} {p.get('traffic', 100)}% ({p.get('graph', {}).get('name')})" for p in predictors
    )
    return f"review only, not applied: what the deploy step applies first: {split}"


def describe(manifest: Manifest, manifests: Iterable[Manifest] = ()) -> str:
    """What one manifest does, in a line; ``manifests``: the bundle, to name what it refers to."""
    index = _Index([*manifests, manifest])
    kind, spec = manifest["kind"], manifest.get("spec", {})
    if kind == "WorkflowTemplate":
        return _workflow_template(manifest, index)
    if kind == "Sensor":
        return _sensor(manifest, index)
    if kind == "EventSource":
        return _event_source(manifest)
    if kind == "Workflow":
        ref = spec.get("workflowTemplateRef", {}).get("name")
        once = (manifest["metadata"].get("annotations") or {}).get("myelin.io/create-once") == "true"
        target = index.get("WorkflowTemplate", str(ref))
        what = f"sensor {_myelin_name(target)}" if target else f"WorkflowTemplate {ref}"
        return f"runs {what} once, when applied" if once else f"runs {what}"
    if kind == "PrometheusRule":
        rules = [r for g in spec.get("groups", []) for r in g.get("rules", [])]
        return "alerts: " + "; ".join(f"{r.get('alert')} when {r.get('expr')}" for r in rules)
    if kind == "AlertmanagerConfig":
        urls = [w.get("url") for r in spec.get("receivers", []) for w in r.get("webhookConfigs", [])]
        return "sends the axon's alerts to " + ", ".join(str(u) for u in urls)
    if kind == "ServiceAccount":
        return "the identity workflows and sensors run as"
    if kind == "Role":
        return _role(manifest)
    if kind == "RoleBinding":
        subjects = ", ".join(f"{s.get('kind')} {s.get('name')}" for s in manifest.get("subjects", []))
        return f"gives Role {manifest.get('roleRef', {}).get('name')} to {subjects}"
    if kind == "PersistentVolumeClaim":
        size = spec.get("resources", {}).get("requests", {}).get("storage", "?")
        modes = ", ".join(spec.get("accessModes", []))
        klass = f", class {spec['storageClassName']}" if spec.get("storageClassName") else ""
        return f"volume {_myelin_name(manifest)}: {size}, {modes}{klass}"
    if kind == "SeldonDeployment":
        return _seldon(manifest)
    if kind == "NetworkPolicy":  # compiler.network: who may reach the webhook EventSource
        peers = [p for rule in spec.get("ingress", []) for p in rule.get("from", [])]
        names = [
            ", ".join(f"{k}={v}" for k, v in p.get("podSelector", {}).get("matchLabels", {}).items())
            + (
                " in namespace " + ", ".join(p["namespaceSelector"].get("matchLabels", {}).values())
                if "namespaceSelector" in p
                else ""
            )
            for p in peers
        ]
        return "admits to the webhook only pods with " + "; ".join(names)
    return str(manifest.get("apiVersion", ""))


def rows(manifests: Sequence[Manifest], reviews: Sequence[Manifest] = ()) -> list[tuple[str, str, str]]:
    """(kind, name, what it does) of each manifest, then of each review document."""
    every = [*manifests, *reviews]
    out = [(m["kind"], m["metadata"]["name"], describe(m, every)) for m in manifests]
    out += [(f"{m['kind']} (review)", m["metadata"]["name"], describe(m, every)) for m in reviews]
    return out


def _warning(diagnostic: Any) -> str:
    return str(diagnostic.format()) if hasattr(diagnostic, "format") else str(diagnostic)


def _title(axon: str, manifests: Sequence[Manifest], reviews: Sequence[Manifest]) -> str:
    extra = f" (+{len(reviews)} for review, not applied)" if reviews else ""
    return f"bundle of axon {axon}: {len(manifests)} manifests{extra}"


def bundle_text(bundle: Bundle) -> str:
    """The plain-text table: one line per manifest, columns aligned."""
    axon, manifests, reviews, warnings = bundle.axon, bundle.manifests, bundle.reviews, bundle.warnings
    table = [("KIND", "NAME", "WHAT"), *rows(manifests, reviews)]
    kind_w = max(len(r[0]) for r in table)
    name_w = max(len(r[1]) for r in table)
    lines = [_title(axon, manifests, reviews)]
    lines += [f"{k:<{kind_w}}  {n:<{name_w}}  {w}".rstrip() for k, n, w in table]
    lines += [_warning(w) for w in warnings]
    return "\n".join(lines)


def bundle_html(bundle: Bundle) -> str:
    """The table as HTML (every cell escaped)."""
    axon, manifests, reviews, warnings = bundle.axon, bundle.manifests, bundle.reviews, bundle.warnings
    cell = 'style="text-align:left;vertical-align:top;padding:2px 8px"'
    body = "".join(
        f"<tr><td {cell}><code>{html.escape(k)}</code></td><td {cell}><code>{html.escape(n)}</code></td>"
        f"<td {cell}>{html.escape(w)}</td></tr>"
        for k, n, w in rows(manifests, reviews)
    )
    notes = "".join(f"<li>{html.escape(_warning(w))}</li>" for w in warnings)
    return (
        f"<table><caption style='text-align:left'>{html.escape(_title(axon, manifests, reviews))}</caption>"
        f"<thead><tr><th {cell}>kind</th><th {cell}>name</th><th {cell}>what it does</th></tr></thead>"
        f"<tbody>{body}</tbody></table>" + (f"<p>warnings:</p><ul>{notes}</ul>" if notes else "")
    )


def _keys(m: Manifest, axon: str) -> set[str]:
    """The names a manifest answers to: full, without ``<axon>-``, its Myelin name."""
    name = m["metadata"]["name"]
    return {name, name.removeprefix(f"{axon}-"), _myelin_name(m)}


def find(bundle: Bundle, key: str) -> Manifest:
    """The one manifest (or review document) ``key`` names (see the module); a :class:`MyelinError` with
    did-you-mean otherwise."""
    axon, manifests = bundle.axon, [*bundle.manifests, *bundle.reviews]
    kind, slash, name = key.partition("/")
    if not slash:
        kind, name = "", key
    of_kind = [m for m in manifests if not kind or m["kind"].lower() == kind.lower()]
    exact = [m for m in of_kind if name in _keys(m, axon)]
    prefixed = [m for m in of_kind if kind and any(k.startswith(name) for k in _keys(m, axon))]
    for found in (exact, prefixed):
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            names = ", ".join(f"{m['kind']}/{m['metadata']['name']}" for m in found)
            raise MyelinError(f"bundle.show({key!r}): {len(found)} manifests match: {names}; name one")
    known = [f"{m['kind']}/{m['metadata']['name']}" for m in manifests]
    close = difflib.get_close_matches(key, known, n=3, cutoff=0.5) or difflib.get_close_matches(
        name, [k.partition("/")[2] for k in known], n=3, cutoff=0.5
    )
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    kinds = sorted({m["kind"] for m in manifests})
    raise MyelinError(
        f"bundle.show({key!r}): no manifest of the bundle is called that{hint} "
        f"(keys are Kind/name; kinds here: {', '.join(kinds)})"
    )


class ManifestView:
    """One manifest's YAML: coloured in a notebook (HTML) and on a terminal (ANSI), plain in ``.yaml``."""

    def __init__(self, manifest: Manifest) -> None:
        self.manifest = manifest
        #: The YAML text, without colour.
        self.yaml = dump(manifest)

    def __rich__(self) -> Any:
        from rich.syntax import Syntax

        return Syntax(self.yaml, "yaml", theme="ansi_light", word_wrap=False, background_color="default")

    def _repr_html_(self) -> str:
        from rich.console import Console

        console = Console(record=True, width=200, file=io.StringIO(), force_jupyter=False)
        console.print(self.__rich__())
        return console.export_html(inline_styles=True, code_format=_HTML_FORMAT)

    def _ansi(self) -> str:
        from rich.console import Console

        console = Console(
            width=200,
            force_terminal=True,
            force_jupyter=False,  # else rich, in a kernel, publishes what it prints as an output of its own
            color_system="standard",
            file=io.StringIO(),
            record=True,
        )
        console.print(self.__rich__())
        return console.export_text(styles=True).rstrip("\n")

    def __str__(self) -> str:
        return self._ansi() if sys.stdout.isatty() else self.yaml.rstrip("\n")

    def __repr__(self) -> str:
        return str(self)


_HTML_FORMAT = (
    '<pre style="white-space:pre;overflow-x:auto;line-height:normal;'
    "font-family:Menlo,'DejaVu Sans Mono',consolas,'Courier New',monospace\">{code}</pre>"
)
