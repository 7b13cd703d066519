"""``myelin submit`` failures: one readable line and exit status 2, never a client traceback.

No Kubernetes API server can run here; these tests check the client against a local server playing the
documented API contract (tests/support/fake_apiserver.py).
"""

from __future__ import annotations

import io
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from myelin_sdk.cli import main
from myelin_sdk.cluster import MAX_BYTES, fetch_text
from myelin_sdk.errors import MyelinError

from support.fake_apiserver import DEMO, FakeAPIServer


@pytest.fixture(autouse=True)
def _no_in_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)


def serve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **config: object) -> Iterator[FakeAPIServer]:
    server = FakeAPIServer(**config).start()  # type: ignore[arg-type]
    monkeypatch.setenv("KUBECONFIG", str(server.kubeconfig(tmp_path)))
    yield server
    server.stop()


def submit(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["submit", str(DEMO), *args])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def test_missing_argo_events_crd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for api in serve(tmp_path, monkeypatch, installed=("argo-workflows", "prometheus-operator")):
        code, _, err = submit(capsys, "-n", "ml")
        assert code == 2
        assert err.splitlines() == [
            f"{DEMO}: Argo Events is not installed in this cluster: the `eventsources.argoproj.io` CRD was "
            "not found — see docs/install.md",
            f"{DEMO}: Argo Events is not installed in this cluster: the `sensors.argoproj.io` CRD was not "
            "found — see docs/install.md",
        ]
        assert api.writes() == []  # checked before anything is written


def test_missing_prometheus_operator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for _ in serve(tmp_path, monkeypatch, installed=("argo-workflows", "argo-events")):
        code, _, err = submit(capsys, "-n", "ml")
        assert code == 2
        assert (
            "prometheus-operator is not installed in this cluster: "
            "the `prometheusrules.monitoring.coreos.com` CRD was not found"
        ) in err


def test_forbidden_names_verb_resource_and_namespace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for api in serve(tmp_path, monkeypatch, forbidden={("create", "sensors")}):
        code, _, err = submit(capsys, "-n", "ml")
        assert code == 2
        assert err.startswith(
            f"{DEMO}: forbidden: cannot create sensors.argoproj.io in namespace ml (403): "
            "sensors.argoproj.io 'ml-rec-deployment-decision-maker' is forbidden: "
            'User "system:anonymous" cannot create resource "sensors"'
        )
        assert len(err.splitlines()) == 1
        assert [r.method for r in api.writes()][-1] == "PATCH"  # an apply that creates needs create


def test_forbidden_patch_of_an_existing_object(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for api in serve(tmp_path, monkeypatch):
        assert submit(capsys, "-n", "ml")[0] == 0
        api.forbidden.add(("patch", "sensors"))
        code, _, err = submit(capsys, "-n", "ml")
        assert code == 2
        assert err.startswith(
            f"{DEMO}: forbidden: cannot patch sensors.argoproj.io in namespace ml (403): "
            "sensors.argoproj.io 'ml-rec-deployment-decision-maker' is forbidden: User \"system:anonymous\" "
            'cannot patch resource "sensors"'
        )
        assert len(err.splitlines()) == 1


def test_missing_namespace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for api in serve(tmp_path, monkeypatch):
        code, _, err = submit(capsys, "-n", "staging")
        assert code == 2
        assert err == (
            f"{DEMO}: namespace 'staging' does not exist: create it with kubectl create namespace staging\n"
        )
        assert [r.method for r in api.writes()] == ["PATCH"]


def test_unreachable_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = tmp_path / "kubeconfig"
    config.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        f"clusters: [{{name: c, cluster: {{server: 'http://127.0.0.1:{port}'}}}}]\n"
        "users: [{name: u, user: {}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\n"
    )
    code, _, err = submit(capsys, "-n", "ml", "--kubeconfig", str(config))
    assert code == 2
    assert err.startswith(f"{DEMO}: cannot reach the cluster at http://127.0.0.1:{port}: ")
    assert "Connection refused" in err and "object at 0x" not in err


def test_no_kubeconfig(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    code, _, err = submit(capsys, "-n", "ml")
    assert code == 2
    assert f"no kubeconfig: {tmp_path / 'missing'} does not exist" in err


def test_unknown_context(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for _ in serve(tmp_path, monkeypatch):
        code, _, err = submit(capsys, "-n", "ml", "--context", "nope")
        assert code == 2
        assert "cannot load the kubeconfig" in err and "nope" in err


def test_client_dry_run_needs_no_cluster(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "does-not-exist"))
    assert main(["compile", str(DEMO), "-n", "ml"]) == 0
    compiled = capsys.readouterr().out
    code, out, err = submit(capsys, "-n", "ml", "--dry-run=client", "-o", "yaml")
    assert code == 0
    assert out == compiled
    assert err.rstrip().endswith("axon ml-rec: 19 planned (client dry run: no cluster was contacted)")
    code, out, _ = submit(capsys, "-n", "ml", "--dry-run=client")
    assert code == 0 and "planned  Sensor" in out
    code, out, _ = submit(capsys, "-n", "ml", "--dry-run=client", "-o", "json")
    listed = json.loads(out)
    assert code == 0 and (listed["apiVersion"], listed["kind"]) == ("v1", "List")
    assert listed["items"] == list(yaml.safe_load_all(compiled))


class _Response(io.BytesIO):
    def __init__(self, data: bytes, length: str | None = None) -> None:
        super().__init__(data)
        self.headers = {"Content-Length": length} if length else {}


def test_submit_from_an_https_url(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import urllib.request

    seen = []

    def urlopen(request, timeout):  # type: ignore[no-untyped-def]
        seen.append((request.full_url, timeout))
        return _Response(DEMO.read_bytes())

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    url = "https://example.com/recommender-demo.yaml"
    assert main(["submit", url, "-n", "ml", "--dry-run=client"]) == 0
    assert seen == [(url, 30.0)]
    assert "19 planned" in capsys.readouterr().out


def test_url_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    import urllib.request

    with pytest.raises(MyelinError, match="only https:// URLs"):
        fetch_text("http://example.com/a.yaml")
    monkeypatch.setattr(urllib.request, "urlopen", lambda r, timeout: _Response(b"", str(MAX_BYTES + 1)))
    with pytest.raises(MyelinError, match="refusing to fetch"):
        fetch_text("https://example.com/a.yaml")
    monkeypatch.setattr(urllib.request, "urlopen", lambda r, timeout: _Response(b"x" * 11))
    with pytest.raises(MyelinError, match="more than 10 bytes"):
        fetch_text("https://example.com/a.yaml", max_bytes=10)

    def refused(request, timeout):  # type: ignore[no-untyped-def]
        raise urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))

    monkeypatch.setattr(urllib.request, "urlopen", refused)
    with pytest.raises(MyelinError, match=r"cannot fetch: .*Connection refused"):
        fetch_text("https://example.com/a.yaml")


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (
            401,
            "refused the credentials (401 Unauthorized): log in again, or check --context and --kubeconfig",
        ),
        (403, "forbidden: cannot discover /api/v1"),
        (500, "answered 500 for GET /api/v1"),
    ],
)
def test_a_refused_discovery_is_one_clear_line(
    status: int,
    expected: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Expired credentials or a broken API server during discovery: exit 2 and one line, no traceback."""
    for _ in serve(tmp_path, monkeypatch, refuse_all=status):
        code, _out, err = submit(capsys, "-n", "ml")
        assert code == 2
        assert expected in err
        assert len(err.strip().splitlines()) == 1


def test_a_namespace_other_than_the_compiled_one_is_refused() -> None:
    """The bundle names its namespace inside (RoleBinding subjects, webhook URLs): no silent mismatch."""
    from myelin_sdk.cluster import submit as submit_axon
    from myelin_sdk.compiler import CompileOptions
    from myelin_sdk.errors import MyelinError
    from myelin_sdk.loader import load_path

    with pytest.raises(MyelinError, match="differs from the compile option namespace 'ml'"):
        submit_axon(load_path(DEMO), CompileOptions(namespace="ml"), namespace="prod", dry_run="client")
