"""The bearer token that protects the axon's webhook EventSource, and how every sender presents it.

The EventSource checks ``Authorization: Bearer <token>`` on every endpoint (Argo Events webhook
``authSecret``); the token lives in one Secret that the bundle only refers to — it never holds its value,
so a bundle can be checked in. Create it once per namespace (docs/security.md)::

    TOKEN=$(openssl rand -hex 32)
    kubectl create secret generic ml-rec-webhook-token \\
        --from-literal=token="$TOKEN" --from-literal=authorization="Bearer $TOKEN"

Who reads which key:

=========================  ===================  =========================================================
reader                     key                  how
=========================  ===================  =========================================================
the EventSource            ``token``            ``webhook.<event>.authSecret``
task exit notifications    ``authorization``    the ``http`` template's ``Authorization`` header,
                                                ``valueFrom.secretKeyRef`` (the Argo agent reads it)
Alertmanager               ``token``            ``httpConfig.authorization`` (type Bearer) of the
                                                AlertmanagerConfig's webhook
a user's Rest trigger      either               ``curl -H "Authorization: Bearer $TOKEN" ...``
=========================  ===================  =========================================================

    >>> from myelin_sdk.spec import Axon
    >>> webhook_secret_name(Axon("ml-rec"), CompileOptions())
    'ml-rec-webhook-token'
    >>> auth_secret(Axon("ml-rec"), CompileOptions(webhook_secret="hooks"))
    {'key': 'token', 'name': 'hooks'}
"""

from __future__ import annotations

from typing import Any

from ..config import CompileOptions
from ..names import dns_label
from ..spec import Axon

__all__ = [
    "HEADER_KEY",
    "TOKEN_KEY",
    "alertmanager_authorization",
    "auth_secret",
    "authorization_header",
    "secret_rule",
    "webhook_secret_name",
]

#: The Secret key holding the bare token.
TOKEN_KEY = "token"
#: The Secret key holding the whole header value, ``Bearer <token>`` (an Argo header takes a key as is).
HEADER_KEY = "authorization"


def webhook_secret_name(axon: Axon, options: CompileOptions) -> str:
    """The Secret with the token: ``options.webhook_secret``, else ``<axon>-webhook-token``."""
    return options.webhook_secret or dns_label(axon.name, "webhook-token")


def auth_secret(axon: Axon, options: CompileOptions) -> dict[str, str]:
    """The EventSource's ``authSecret`` (a SecretKeySelector)."""
    return {"key": TOKEN_KEY, "name": webhook_secret_name(axon, options)}


def authorization_header(axon: Axon, options: CompileOptions) -> dict[str, Any]:
    """The ``Authorization`` header of an Argo ``http`` template, from the Secret."""
    ref = {"key": HEADER_KEY, "name": webhook_secret_name(axon, options)}
    return {"name": "Authorization", "valueFrom": {"secretKeyRef": ref}}


def alertmanager_authorization(axon: Axon, options: CompileOptions) -> dict[str, Any]:
    """An AlertmanagerConfig webhook's ``httpConfig``: a bearer token from the Secret."""
    return {"authorization": {"credentials": auth_secret(axon, options), "type": "Bearer"}}


def secret_rule(axon: Axon, options: CompileOptions) -> dict[str, Any]:
    """The Role rule that lets the Argo agent read the header (``get`` on that one Secret only)."""
    return {
        "apiGroups": [""],
        "resourceNames": [webhook_secret_name(axon, options)],
        "resources": ["secrets"],
        "verbs": ["get"],
    }
