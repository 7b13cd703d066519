"""The model-graph contract: what each model of a route's DAG receives — one rule for the cluster and the
local router.

A deployer ``route`` is a DAG over models. Myelin's proxy ran it like this, and so do the SDK's graph node
on the cluster (:mod:`myelin_sdk.runtime.graph_node`) and the local router:

* a model **without** ``dependencies`` receives the route's request unchanged;
* a model **with** ``dependencies`` is called once they have all answered, with one *features* object:
  ``{"<dependency model name>": <its answer>, ..., "INPUT": <the route's request>}`` (``INPUT`` only with
  ``includeInput: true``), each value a whole Seldon message (``{"data": {"ndarray": ...}}``);
* the route answers with the answer of its final model (the one no other model depends on).

How the features object travels depends on the server that receives it:

* a **Seldon class** (the seldon-core Python wrapper) gets it as ``jsonData`` with each message reduced
  to its payload (:func:`answer_value`: the ``ndarray`` list, a tensor as nested lists, ``jsonData``,
  ``strData``), so ``predict(self, features_dict)`` reads ``features_dict["DeployModel1"]`` as the array
  the original Myelin wrapper passed;
* a **custom server** (a deploy task built from a Dockerfile that runs its own HTTP app, like the original
  examples' Flask ``predict_rest.py``) gets Myelin's ``Multipart`` form: a field ``json`` holding the
  features object as JSON, POSTed to the DAG entry's ``path`` (default ``/predict``). A model without
  dependencies on such a server gets the request message in the same field.

>>> request = {"data": {"ndarray": [[3, 4]]}}
>>> f = features([("Model1", {"data": {"ndarray": [0.5]}})], request, include_input=True)
>>> sorted(f)
['INPUT', 'Model1']
>>> json.loads(seldon_body(f))
{'jsonData': {'Model1': [0.5], 'INPUT': [[3, 4]]}}

Standard library only: this module is copied into the graph node's image.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "FORM_FIELD",
    "INPUT",
    "answer_value",
    "custom_body",
    "features",
    "seldon_body",
]

#: The key of the route's own request in a features object (``includeInput: true``).
INPUT = "INPUT"
#: The form field a custom server reads the message from (Myelin's ``endpointRestType: Multipart``).
FORM_FIELD = "json"


def answer_value(message: Mapping[str, Any]) -> Any:
    """The payload of a Seldon message: ``data.ndarray``, a ``data.tensor`` as nested lists, ``jsonData``,
    ``strData`` or ``binData`` (in that order).

    >>> answer_value({"data": {"tensor": {"shape": [2, 2], "values": [1, 2, 3, 4]}}})
    [[1, 2], [3, 4]]
    """
    data = message.get("data")
    if isinstance(data, Mapping):
        if "ndarray" in data:
            return data["ndarray"]
        tensor = data.get("tensor")
        if isinstance(tensor, Mapping):
            return _reshape(list(tensor.get("values") or []), list(tensor.get("shape") or []))
    for key in ("jsonData", "strData", "binData"):
        if key in message:
            return message[key]
    raise ValueError(
        f"no data in the message (expected data.ndarray, data.tensor, jsonData or strData): {message!r}"
    )


def _reshape(values: list[Any], shape: list[int]) -> Any:
    if len(shape) <= 1:
        return values
    step = len(values) // shape[0] if shape[0] else 0
    return [_reshape(values[i * step : (i + 1) * step], shape[1:]) for i in range(shape[0])]


def features(
    dependencies: Sequence[tuple[str, Mapping[str, Any]]],
    request: Mapping[str, Any] | None,
    include_input: bool,
) -> dict[str, Mapping[str, Any]]:
    """The features object of a model with dependencies: each dependency's answer under its model name, in
    ``dependencies`` order, then the route's request under :data:`INPUT` when ``include_input``."""
    out: dict[str, Mapping[str, Any]] = {}
    for name, answer in dependencies:
        if name == INPUT:
            raise ValueError(f"a model named {INPUT!r} would hide the route's input")
        out[name] = answer
    if include_input:
        if request is None:
            raise ValueError("includeInput needs the route's request")
        out[INPUT] = request
    return out


def seldon_body(features_object: Mapping[str, Mapping[str, Any]]) -> bytes:
    """The request body for a Seldon class: ``{"jsonData": {name: answer_value(message)}}``."""
    payload = {name: answer_value(message) for name, message in features_object.items()}
    return json.dumps({"jsonData": payload}).encode()


def custom_body(message: Mapping[str, Any]) -> tuple[bytes, str]:
    """A ``multipart/form-data`` body with the field ``json`` (the message as JSON), and its content type:
    what Myelin's proxy sent to a custom server (``endpointRestType: Multipart``)."""
    boundary = f"myelin-{uuid.uuid4().hex}"
    body = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="{FORM_FIELD}"\r\n'
        "Content-Type: application/json\r\n\r\n"
        f"{json.dumps(message)}\r\n"
        f"--{boundary}--\r\n"
    ).encode()
    return body, f"multipart/form-data; boundary={boundary}"
