"""ServiceAccount + Role + RoleBinding (``myelin_sdk.compiler.rbac``).

No Kubernetes API server, RBAC authorizer or Argo controller can run here, so these tests check the documents
against the Kubernetes schemas (kubernetes-validate, strict) and the documented contract: namespace-scoped,
no wildcard, the binding ties the Role to the ServiceAccount, and the Role holds the rights Argo Workflows
documents for its executor (``workflowtaskresults``), its agent (``workflowtasksets``), Argo Events Sensors
(``workflows`` create/list, ``workflowtemplates`` get for ``argo submit``) and ``resource`` deploy steps.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from myelin_sdk import Axon, CompileOptions
from myelin_sdk.compiler import wiring
from myelin_sdk.compiler.meta import AXON_LABEL, PART_OF
from myelin_sdk.compiler.rbac import WORKFLOW_RULES, rbac_manifests, role_rules, service_account_name
from myelin_sdk.names import is_dns_label
from myelin_sdk.yamlio import dump_all

from support.schemas import SchemaValidator, assert_valid

PROJECT = Path(__file__).resolve().parents[2]
DEMO_YAML = PROJECT / "examples" / "recommender_demo" / "recommender-demo.yaml"
IMAGE_CLASSIFICATION = PROJECT.parent / "shared" / "axons" / "examples" / "image-classification_axon.yaml"

OPTION_SETS = [
    CompileOptions(),
    CompileOptions(namespace="ml"),
    CompileOptions(namespace="ml", registry_secret="regcred"),
]
OPTION_IDS = ["no-namespace", "namespace", "registry-secret"]


@pytest.fixture(scope="module")
def demo() -> Axon:
    """The original demo, which runs under its own ``myelin-minimal`` account."""
    return Axon.from_file(PROJECT.parent / "shared" / "axons" / "recommender-demo.2019-07.yaml")


@pytest.fixture(scope="module")
def own_account_dropped(demo: Axon) -> Axon:
    """The demo without its ``serviceAccountName``: the SDK makes the account."""
    return demo.model_copy(update={"service_account_name": None})


def _by_kind(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {d["kind"]: d for d in docs}


@pytest.mark.parametrize("options", OPTION_SETS, ids=OPTION_IDS)
def test_documents_validate(
    own_account_dropped: Axon, options: CompileOptions, schema_validator: SchemaValidator
) -> None:
    docs = rbac_manifests(own_account_dropped, options)
    assert_valid(docs, schema_validator)
    assert_valid(rbac_manifests(Axon("plain"), options), schema_validator)


def test_kinds_only_namespaced_rbac(own_account_dropped: Axon) -> None:
    docs = rbac_manifests(own_account_dropped, CompileOptions(namespace="ml"))
    assert [(d["apiVersion"], d["kind"]) for d in docs] == [
        ("v1", "ServiceAccount"),
        ("rbac.authorization.k8s.io/v1", "Role"),
        ("rbac.authorization.k8s.io/v1", "RoleBinding"),
    ]
    for doc in docs:
        md = doc["metadata"]
        assert md["namespace"] == "ml"
        assert is_dns_label(md["name"])
        assert md["labels"][PART_OF] == "myelin" and md["labels"][AXON_LABEL] == "ml-rec"


@pytest.mark.parametrize("options", OPTION_SETS, ids=OPTION_IDS)
def test_no_wildcard_anywhere(own_account_dropped: Axon, options: CompileOptions) -> None:
    role = _by_kind(rbac_manifests(own_account_dropped, options))["Role"]
    assert role["rules"]
    for rule in role["rules"]:
        if rule["resources"] == ["secrets"]:  # the webhook token only, by name (compiler.webhook_auth)
            assert rule == {
                "apiGroups": [""],
                "resourceNames": ["ml-rec-webhook-token"],
                "resources": ["secrets"],
                "verbs": ["get"],
            }
            continue
        assert set(rule) == {"apiGroups", "resources", "verbs"}  # no resourceNames / nonResourceURLs
        for key in ("apiGroups", "resources", "verbs"):
            assert rule[key], (key, rule)
            assert all("*" not in value for value in rule[key]), (key, rule)
    assert "*" not in dump_all(rbac_manifests(own_account_dropped, options))


@pytest.mark.parametrize("options", OPTION_SETS, ids=OPTION_IDS)
def test_binding_ties_the_role_to_the_account(own_account_dropped: Axon, options: CompileOptions) -> None:
    docs = _by_kind(rbac_manifests(own_account_dropped, options))
    account, role, binding = docs["ServiceAccount"], docs["Role"], docs["RoleBinding"]
    assert account["metadata"]["name"] == service_account_name(own_account_dropped) == "ml-rec-myelin"
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": role["metadata"]["name"],
    }
    (subject,) = binding["subjects"]
    assert subject["kind"] == "ServiceAccount"
    assert subject["name"] == account["metadata"]["name"]
    # Without a namespace the subject defaults to the binding's own (the RBAC authorizer's rule).
    assert subject.get("namespace") == options.namespace
    assert "apiGroup" not in subject


def test_registry_secret_becomes_an_image_pull_secret(own_account_dropped: Axon) -> None:
    account = _by_kind(rbac_manifests(own_account_dropped, CompileOptions(registry_secret="regcred")))
    assert account["ServiceAccount"]["imagePullSecrets"] == [{"name": "regcred"}]
    account = _by_kind(rbac_manifests(own_account_dropped, CompileOptions()))
    assert "imagePullSecrets" not in account["ServiceAccount"]


def _grants(rules: list[dict[str, Any]], group: str, resource: str) -> set[str]:
    return {
        verb
        for rule in rules
        if group in rule["apiGroups"] and resource in rule["resources"]
        for verb in rule["verbs"]
    }


def test_role_holds_the_documented_rights(own_account_dropped: Axon) -> None:
    rules = _by_kind(rbac_manifests(own_account_dropped, CompileOptions()))["Role"]["rules"]
    # Argo executor v3.4+ (emissary) and older executors.
    assert {"create", "patch"} <= _grants(rules, "argoproj.io", "workflowtaskresults")
    assert {"get", "watch", "patch"} <= _grants(rules, "", "pods")
    assert {"get", "watch"} <= _grants(rules, "", "pods/log")
    # The Argo agent (http exit hooks).
    assert {"list", "watch"} <= _grants(rules, "argoproj.io", "workflowtasksets")
    assert {"patch"} <= _grants(rules, "argoproj.io", "workflowtasksets/status")
    # Sensors: argo submit (validates the workflowTemplateRef), then list the created Workflow by label.
    assert {"create", "get", "list", "watch"} <= _grants(rules, "argoproj.io", "workflows")
    assert {"get"} <= _grants(rules, "argoproj.io", "workflowtemplates")
    # Deploy steps: resource apply of SeldonDeployments (their history lives on the shared volume).
    assert {"get", "create", "patch", "update"} <= _grants(
        rules, "machinelearning.seldon.io", "seldondeployments"
    )
    assert not _grants(rules, "", "configmaps")


def test_role_holds_nothing_more(own_account_dropped: Axon) -> None:
    rules = _by_kind(rbac_manifests(own_account_dropped, CompileOptions()))["Role"]["rules"]
    # besides role_rules(): `get` on the one Secret of the webhook token, by name (compiler.webhook_auth)
    secret = {"apiGroups": [""], "resourceNames": ["ml-rec-webhook-token"], "resources": ["secrets"]}
    assert rules == [*role_rules(), {**secret, "verbs": ["get"]}]
    rules = rules[:-1]
    granted = {
        (g, r, v)
        for rule in rules
        for g in rule["apiGroups"]
        for r in rule["resources"]
        for v in rule["verbs"]
    }
    assert not {v for g, r, v in granted} & {"delete", "deletecollection", "escalate", "bind", "impersonate"}
    assert not {r for g, r, v in granted} & {
        "secrets",
        "roles",
        "rolebindings",
        "serviceaccounts",
        "pods/exec",
    }
    # Read-only, except where a step writes.
    writable = {(g, r) for g, r, v in granted if v in {"create", "update", "patch"}}
    assert writable == {
        ("", "pods"),
        ("argoproj.io", "workflowtaskresults"),
        ("argoproj.io", "workflowtasksets/status"),
        ("argoproj.io", "workflows"),
        ("machinelearning.seldon.io", "seldondeployments"),
    }
    # One rule per (group, resource), each verb once.
    assert len({(g, r) for g, resources, _ in WORKFLOW_RULES for r in resources}) == len(WORKFLOW_RULES)
    assert all(len(set(verbs)) == len(verbs) for _, _, verbs in WORKFLOW_RULES)


def test_own_service_account_gives_nothing(demo: Axon) -> None:
    assert demo.service_account_name == "myelin-minimal"
    assert rbac_manifests(demo, CompileOptions(namespace="ml")) == []
    assert service_account_name(demo) == "myelin-minimal"
    image_classification = Axon.from_file(IMAGE_CLASSIFICATION)
    assert rbac_manifests(image_classification, CompileOptions()) == []
    assert service_account_name(image_classification) == image_classification.service_account_name


def test_default_account_name() -> None:
    assert service_account_name(Axon("ml-rec")) == "ml-rec-myelin"
    # The name the workflow and sensor compilers put in serviceAccountName.
    assert service_account_name(Axon("ml-rec")) == wiring.service_account_name(Axon("ml-rec"))
    assert service_account_name(Axon("ImageClassifier")) == "image-classifier-myelin"
    long_name = service_account_name(Axon("a-very-long-axon-name-" + "x" * 60))
    assert is_dns_label(long_name) and len(long_name) <= 63
    assert all(is_dns_label(d["metadata"]["name"]) for d in rbac_manifests(Axon("y" * 80), CompileOptions()))


def test_deterministic(own_account_dropped: Axon) -> None:
    options = CompileOptions(namespace="ml", registry_secret="regcred")
    again = Axon.from_file(DEMO_YAML).model_copy(update={"service_account_name": None})
    assert dump_all(rbac_manifests(own_account_dropped, options)) == dump_all(rbac_manifests(again, options))
