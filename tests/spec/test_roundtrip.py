"""``Axon.from_yaml(a.to_yaml()) == a`` for every valid Axon, built with the DSL by hypothesis (issue #17).

The strategies build Axons the model accepts (not necessarily lint-clean): empty task bodies, empty volume
sources, odd strings (``y``, ``1.5``, ``null``, multi-line, unicode) and every task kind and trigger type.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from myelin_sdk import spec

# any text a YAML file can carry (no surrogates; YAML has no NUL-free guarantee issue for other controls)
_chars = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
text = st.text(_chars, max_size=12)
tricky = st.sampled_from(
    ["y", "n", "Y", "yes", "no", "on", "null", "~", "1.5", "0x10", "-", "a: b", "#x", " x"]
)
words = st.one_of(text, tricky, st.text(_chars, min_size=1, max_size=30).map(lambda s: s + "\nline two"))
names = st.one_of(st.text(_chars, min_size=1, max_size=12), tricky)
numbers = st.one_of(st.integers(-(2**40), 2**40), st.floats(allow_nan=False, allow_infinity=False))


@st.composite
def bodies(draw: Any) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if draw(st.booleans()):
        if draw(st.booleans()):
            body["image"] = draw(words)
        else:
            how = draw(st.sampled_from(["dockerfile", "s2i"]))
            build: dict[str, Any] = {"repository_name": draw(names)}
            if how == "dockerfile":
                build["dockerfile"] = spec.Dockerfile(path=draw(words))
            elif how == "s2i":
                build["s2i"] = spec.S2I(builder_image=draw(names))
            body["image_build"] = spec.ImageBuild(**build)
    if draw(st.booleans()):
        body["command"] = draw(st.lists(words, max_size=3))
    if draw(st.booleans()):
        body["env"] = draw(st.lists(st.builds(spec.EnvVar, name=names, value=st.none() | words), max_size=2))
    if draw(st.booleans()):
        body["resources"] = spec.Resources(
            requests=draw(st.dictionaries(names, st.one_of(words, numbers), max_size=2))
        )
    if draw(st.booleans()):
        body["node_selector"] = draw(st.dictionaries(names, words, max_size=2))
    return body


@st.composite
def tasks(draw: Any) -> Any:
    kind = draw(st.sampled_from([spec.ContainerTask, spec.TrainTask, spec.DeployTask]))
    extra: dict[str, Any] = {}
    if kind is spec.TrainTask and draw(st.booleans()):
        extra["loss_metric"] = draw(names)
    return kind(draw(names), **draw(bodies()), **extra)


triggers = st.one_of(
    st.builds(spec.Lifecycle, task=names, condition=st.sampled_from(["Succeeded", "Failed"]), name=text),
    st.builds(spec.Alert, condition=st.sampled_from(["{{acc}} < 0.9", "rate({{m}}[5m]) > 1"]), name=names),
    st.builds(spec.Rest, name=names),
    st.builds(spec.Calendar, name=names, interval=st.sampled_from(["10s", "1h"])),
)


@st.composite
def deployers(draw: Any) -> spec.Deployer:
    backend = spec.BackendModel(name=draw(names), trainer=draw(names), deployer=draw(names))
    model = spec.Model(name=draw(names), backend_models=[backend])
    rollout = [spec.RolloutStep(destinations=[spec.Destination(0, 100)])] if draw(st.booleans()) else []
    return spec.Deployer(draw(st.none() | names), models=[model], rollout_spec=rollout)


@st.composite
def steps(draw: Any) -> spec.SensorStep:
    kind = draw(st.sampled_from(["resource_executor", "trainer", "deployer"]))
    if kind == "deployer":
        return spec.SensorStep(deployer=draw(deployers()))
    return spec.SensorStep(**{kind: spec.TaskCall(task=draw(names))})


sensors = st.builds(
    spec.Sensor,
    name=names,
    triggers=st.lists(triggers, max_size=2),
    conditions=st.lists(st.builds(spec.Metric, condition=st.just("{{loss}} < 0.3")), max_size=1),
    tasks=st.lists(steps(), max_size=2),
)

artifacts = st.one_of(
    st.builds(spec.Artifact, name=names, git=st.builds(spec.Git, repo=names, revision=st.none() | names)),
    st.builds(spec.Artifact, name=names, local=st.builds(spec.Local, path=names)),
)

volumes = st.one_of(
    st.builds(lambda n: spec.Volume(n, emptyDir={}), names),
    st.builds(lambda n, p: spec.Volume(n, hostPath={"path": p}), names, words),
    st.builds(
        lambda n, s, p: spec.Volume(n, nfs={"server": s, "path": p, "readOnly": True}), names, names, words
    ),
)


@st.composite
def axons(draw: Any) -> spec.Axon:
    data: dict[str, Any] = {
        "tasks": draw(st.lists(tasks(), max_size=3)),
        "sensors": draw(st.lists(sensors, max_size=2)),
        "parameters": draw(st.lists(st.builds(spec.Parameter, name=names, value=words), max_size=2)),
    }
    if draw(st.booleans()):
        data["artifacts"] = draw(st.lists(artifacts, max_size=2))
    storage = draw(st.sampled_from(["volume", "claim", "none"]))
    if storage == "volume":
        data["volume"] = draw(volumes)
    elif storage == "claim":
        data["volume_claim_template"] = spec.VolumeClaimTemplate(draw(names), storage="1Gi")
    if draw(st.booleans()):
        data["namespace"] = draw(names)
    if draw(st.booleans()):
        data["service_account_name"] = draw(names)
    return spec.Axon(draw(names), **data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(axons())
def test_from_yaml_of_to_yaml_is_the_same_axon(axon: spec.Axon) -> None:
    text = axon.to_yaml()
    again = spec.Axon.from_yaml(text)
    assert again == axon
    assert again.to_yaml() == text  # and the text is a fixed point


def test_an_empty_task_body_survives_the_round_trip() -> None:
    text = (
        "apiVersion: myelin.io/v1alpha1\nkind: Axon\nmetadata: {name: a}\n"
        "spec: {tasks: [{name: T, container: {}}]}\n"
    )
    axon = spec.Axon.from_yaml(text)
    assert "container: {}" in axon.to_yaml()
    assert spec.Axon.from_yaml(axon.to_yaml()) == axon
    assert spec.ContainerTask("T").to_dict() == {"name": "T", "container": {}}


def test_an_empty_volume_source_survives_the_round_trip() -> None:
    axon = spec.Axon("a", volume=spec.Volume("v", emptyDir={}))
    assert spec.Axon.from_yaml(axon.to_yaml()) == axon
