"""The identity the axon's pods run under: a ServiceAccount, a namespaced Role and a RoleBinding.

Task and sensor Workflows, their Argo agent (``http`` exit hooks) and the axon's Argo Events Sensors all run
as :func:`service_account_name`. The Role grants exactly :data:`WORKFLOW_RULES`, nothing cluster-wide and no
wildcard::

    >>> from myelin_sdk.spec import Axon
    >>> [m["kind"] for m in rbac_manifests(Axon("ml-rec"), CompileOptions(namespace="ml"))]
    ['ServiceAccount', 'Role', 'RoleBinding']
    >>> service_account_name(Axon("ml-rec"))
    'ml-rec-myelin'
    >>> rbac_manifests(Axon("ml-rec", service_account_name="team-sa"), CompileOptions())
    []

An axon that names its own ``serviceAccountName`` gets no RBAC objects: that account is used as is and must
hold (at least) the rights of :data:`WORKFLOW_RULES`, listed here with who needs them:

==================================  =============================  ==========================================
apiGroup / resources                verbs                          needed by
==================================  =============================  ==========================================
"" pods                             get, watch, patch              Argo executors before v3.4 (emissary:
                                                                   patch; k8sapi/pns: get, watch)
"" pods/log                         get, watch                     Argo's k8sapi executor (< v3.4); the
                                                                   original Myelin demo role had it
argoproj.io workflowtaskresults     create, patch                  the executor, Argo v3.4+
argoproj.io workflowtasksets        list, watch                    the Argo agent (``http`` exit hooks)
argoproj.io workflowtasksets/status patch                          the Argo agent, v3.3+
argoproj.io workflows               create, get, list, watch       Sensors (``argo submit``, then a list by
                                                                   label); deploy steps look up runs
argoproj.io workflowtemplates       get                            ``argo submit`` in a Sensor resolves the
                                                                   ``workflowTemplateRef`` to validate it
machinelearning.seldon.io           get, list, watch, create,      deploy steps (``resource`` apply of a
seldondeployments                   update, patch                  SeldonDeployment)
"" secrets: the webhook token's     get                            the Argo agent: the ``Authorization``
only (``resourceNames``)                                           header of exit notifications (axons with
                                                                   Lifecycle triggers; :mod:`.webhook_auth`)
==================================  =============================  ==========================================

Tasks that run on an operator add exactly what they use (:mod:`.operators`), only when the axon has them:

==================================  =============================  ==========================================
sparkoperator.k8s.io                create, get, list, watch       a ``spark`` task's ``run`` step creates
sparkapplications                                                  the SparkApplication and watches its state
"" pods, services, configmaps,      create, get, list, watch,      the Spark driver, when it runs as the
persistentvolumeclaims              update, patch, delete,         axon's account (no ``serviceAccountName``
                                    deletecollection               property): executors and their Service
kubeflow.org tfjobs                 create, get, list, watch       a ``tfJobSpec`` task's ``run`` step
kubeflow.org experiments            create, get, list, watch       an ``hpTuning`` task's ``run`` step (Katib
                                                                   creates the trial Workflows itself)
==================================  =============================  ==========================================

``list``/``watch`` on the two kinds ``resource`` steps apply are for Argo's agent-based resource templates,
which read back and watch what they create (upstream ``resource-agent-role.yaml``); a pod-based
``kubectl apply`` needs only get/create/patch. The metric gate needs nothing from Kubernetes: it only talks
HTTP to Prometheus. Sources: Argo Workflows ``docs/workflow-rbac.md`` and the quick-start roles
``executor/emissary``, ``executor/k8sapi``, ``agent-role``, ``resource-agent-role``; Argo Events
``pkg/sensors/triggers/argo-workflow`` (submit runs ``argo submit``, then lists Workflows by label).
"""

from __future__ import annotations

from typing import Any

from ..config import CompileOptions
from ..spec import Axon
from . import wiring
from .meta import metadata
from .webhook_auth import secret_rule

__all__ = ["WORKFLOW_RULES", "PolicyRule", "rbac_manifests", "role_rules", "service_account_name"]

RBAC_API = "rbac.authorization.k8s.io/v1"

#: One Role rule: (apiGroup, resources, verbs).
PolicyRule = tuple[str, tuple[str, ...], tuple[str, ...]]

#: The least rights the axon's workflows, Argo agent and Sensors need, in a fixed order (see the module
#: docstring for who needs which). Namespace-scoped; no ``*``.
WORKFLOW_RULES: tuple[PolicyRule, ...] = (
    ("", ("pods",), ("get", "watch", "patch")),
    ("", ("pods/log",), ("get", "watch")),
    ("argoproj.io", ("workflowtaskresults",), ("create", "patch")),
    ("argoproj.io", ("workflowtasksets",), ("list", "watch")),
    ("argoproj.io", ("workflowtasksets/status",), ("patch",)),
    ("argoproj.io", ("workflows",), ("create", "get", "list", "watch")),
    ("argoproj.io", ("workflowtemplates",), ("get",)),
    (
        "machinelearning.seldon.io",
        ("seldondeployments",),
        ("get", "list", "watch", "create", "update", "patch"),
    ),
)


def service_account_name(axon: Axon) -> str:
    """The ServiceAccount every pod of the axon runs as: the axon's own, or ``<axon>-myelin``.

    The name comes from :func:`.wiring.service_account_name`, which the workflow and sensor compilers use.
    """
    return wiring.service_account_name(axon)


#: With ``gate="analysis-run"``, the gate steps create AnalysisRuns and watch them to a verdict.
ANALYSIS_RULES: tuple[PolicyRule, ...] = (
    ("argoproj.io", ("analysisruns",), ("create", "get", "list", "watch")),
)


def role_rules(options: CompileOptions | None = None, axon: Axon | None = None) -> list[dict[str, Any]]:
    """:data:`WORKFLOW_RULES` (+ :data:`ANALYSIS_RULES` when gating with AnalysisRuns, + what the axon's
    spark, tfJobSpec and hpTuning tasks need: :func:`.operators.operator_rules`) as ``PolicyRule``s."""
    from .operators import operator_rules

    rules = WORKFLOW_RULES
    if options is not None and options.gate == "analysis-run":
        rules += ANALYSIS_RULES
    if axon is not None:
        rules += operator_rules(axon)
    out = [
        {"apiGroups": [group], "resources": list(resources), "verbs": list(verbs)}
        for group, resources, verbs in rules
    ]
    if axon is not None and wiring.watched_tasks(axon):  # the agent reads the webhook token (webhook_auth)
        out.append(secret_rule(axon, options or CompileOptions()))
    return out


def rbac_manifests(axon: Axon, options: CompileOptions) -> list[dict[str, Any]]:
    """ServiceAccount, Role and RoleBinding for the axon, or ``[]`` when it names its own service account.

    With ``options.registry_secret`` set, the ServiceAccount lists it in ``imagePullSecrets`` so that pods
    can pull the images the build steps pushed (as the original Myelin demo's account did with ``regcred``).
    """
    if axon.service_account_name:
        return []
    name = service_account_name(axon)
    namespace = options.namespace or axon.namespace
    account: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": metadata(axon, name, options),
    }
    if options.registry_secret:
        account["imagePullSecrets"] = [{"name": options.registry_secret}]
    role = {
        "apiVersion": RBAC_API,
        "kind": "Role",
        "metadata": metadata(axon, name, options),
        "rules": role_rules(options, axon),
    }
    # A RoleBinding's ServiceAccount subject without a namespace means the binding's own namespace.
    subject: dict[str, Any] = {"kind": "ServiceAccount", "name": name}
    if namespace:
        subject["namespace"] = namespace
    binding = {
        "apiVersion": RBAC_API,
        "kind": "RoleBinding",
        "metadata": metadata(axon, name, options),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
        "subjects": [subject],
    }
    return [account, role, binding]
