"""The SDK's graph node: a Seldon Python class that runs one node of a route's graph on the cluster.

The compiler puts it where a Seldon graph needs more than a model's own Seldon class (see
:mod:`myelin_sdk.compiler.seldon.graph`); its parameters come from the graph node's ``parameters``:

* ``mode=combine`` (a ``COMBINER``): ``aggregate_raw`` gets the answers of its children (in ``names``
  order; the child named ``INPUT`` is the identity node holding the route's request), builds the features
  object of :mod:`myelin_sdk.runtime.graph`, POSTs it to ``target`` and returns the target's answer;
* ``mode=forward`` (a ``MODEL``): ``predict_raw`` POSTs the request message to ``target`` and returns the
  answer; ``send_feedback_raw`` POSTs the feedback message to ``feedback`` (when given);
* ``mode=identity`` (a ``MODEL``): returns the request unchanged.

``protocol`` says how the target reads a body: ``seldon`` (JSON: ``{"jsonData": ...}`` for a features
object, the message itself otherwise) or ``custom`` (a multipart form with the field ``json``).

Standard library only (plus :mod:`myelin_sdk.runtime.graph`, copied beside it into the image); only the
protobuf feedback of seldon-core's wrapper is converted with the image's own protobuf and seldon-core.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

try:  # in the SDK
    from myelin_sdk.runtime.graph import INPUT, custom_body, features, seldon_body
except ImportError:  # pragma: no cover - in the graph node's image, graph.py is beside this file
    from graph import INPUT, custom_body, features, seldon_body  # type: ignore[no-redef,import-not-found]

__all__ = ["MODES", "PROTOCOLS", "GraphNode", "GraphNodeError"]

MODES = ("combine", "forward", "identity")
PROTOCOLS = ("seldon", "custom")
#: The keys of a Seldon message (an answer keeps only these; anything else is wrapped as jsonData).
_MESSAGE_KEYS = ("status", "meta", "data", "binData", "strData", "jsonData", "customData")
_PAYLOAD_KEYS = ("data", "binData", "strData", "jsonData")


class GraphNodeError(RuntimeError):
    """A target that cannot be reached or answers with an error."""


class GraphNode:
    """One node of a route's graph (module docstring). Seldon passes the parameters as strings."""

    def __init__(
        self,
        mode: str = "identity",
        target: str = "",
        protocol: str = "seldon",
        names: str = "[]",
        feedback: str = "",
        timeout: str = "60",
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode {mode!r}: expected one of {', '.join(MODES)}")
        if protocol not in PROTOCOLS:
            raise ValueError(f"protocol {protocol!r}: expected one of {', '.join(PROTOCOLS)}")
        if mode != "identity" and not target:
            raise ValueError(f"mode {mode!r} needs a target URL")
        self.mode = mode
        self.target = target
        self.protocol = protocol
        self.names: list[str] = json.loads(names) if isinstance(names, str) else list(names)
        if not all(isinstance(n, str) for n in self.names):
            raise ValueError(f"names must be a JSON list of model names: {names!r}")
        self.feedback = feedback
        self.timeout = float(timeout)

    # --- the Seldon methods (raw: whole messages in and out)

    def predict_raw(self, request: Mapping[str, Any]) -> dict[str, Any]:
        if self.mode == "identity":
            return dict(request)
        if self.mode == "combine":  # a combiner's children answered: only aggregate is meant for it
            raise GraphNodeError("a combine graph node is called through aggregate, not predict")
        return self._post(self.target, request)

    def aggregate_raw(self, request: Mapping[str, Any]) -> dict[str, Any]:
        if self.mode != "combine":
            raise GraphNodeError(f"a {self.mode} graph node does not aggregate")
        messages = list(request.get("seldonMessages") or [])
        if len(messages) != len(self.names):
            raise GraphNodeError(
                f"{len(messages)} answers for {len(self.names)} names ({', '.join(self.names)})"
            )
        answers = dict(zip(self.names, messages, strict=True))
        dependencies = [(name, answers[name]) for name in self.names if name != INPUT]
        include_input = INPUT in answers
        features_object = features(dependencies, answers.get(INPUT), include_input)
        if self.protocol == "seldon":
            return self._send(self.target, seldon_body(features_object), "application/json")
        return self._post(self.target, features_object)

    def send_feedback_raw(self, feedback: Any) -> Any:
        """Forward the feedback message to ``feedback`` (when given). seldon-core 1.17.1's wrapper passes a
        ``Feedback`` protobuf and expects a ``SeldonMessage`` protobuf back: then the message is converted
        with the protobuf and seldon-core modules of the image (imported here, only then)."""
        proto = not isinstance(feedback, Mapping)
        if proto:
            from google.protobuf.json_format import MessageToDict  # type: ignore[import-untyped,import-not-found,unused-ignore]

            feedback = MessageToDict(feedback)
        answer = self._post(self.feedback, feedback) if self.feedback else {}
        if proto:
            from seldon_core.utils import json_to_seldon_message  # type: ignore[import-not-found,unused-ignore]

            return json_to_seldon_message(answer)
        return answer

    # --- HTTP

    def _post(self, url: str, message: Mapping[str, Any]) -> dict[str, Any]:
        if self.protocol == "custom":
            body, content_type = custom_body(message)
            return self._send(url, body, content_type)
        return self._send(url, json.dumps(message).encode(), "application/json")

    def _send(self, url: str, body: bytes, content_type: str) -> dict[str, Any]:
        request = urllib.request.Request(
            url, data=body, method="POST", headers={"Content-Type": content_type}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                text = response.read().decode("utf-8", errors="replace")
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", errors="replace")[:500]
            raise GraphNodeError(f"POST {url}: HTTP {exc.code}: {detail}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise GraphNodeError(f"POST {url}: {exc}") from None
        return as_message(text)


def as_message(text: str) -> dict[str, Any]:
    """A target's answer as a Seldon message: a message keeps its Seldon keys, other JSON becomes
    ``jsonData``, other text ``strData``.

    >>> as_message('{"data": {"ndarray": [1]}, "extra": 1}')
    {'data': {'ndarray': [1]}}
    >>> as_message('[1, 2]'), as_message('ok')
    ({'jsonData': [1, 2]}, {'strData': 'ok'})
    """
    try:
        value = json.loads(text)
    except ValueError:
        return {"strData": text}
    if isinstance(value, dict) and any(k in value for k in _PAYLOAD_KEYS):
        return {k: value[k] for k in _MESSAGE_KEYS if k in value}
    return {"jsonData": value}
