"""Tasks: the units of work of an Axon — data preparation (``container``), training (``train``) and
serving (``deploy``); ``spark`` is kept in the model but cannot be compiled yet.

YAML nests a task's body under its kind; Python can write it flat::

    train = TrainTask("TrainMyelinRecommender",
                      image_build=ImageBuild(repository_name="train-myelin-recommender", artifact=src,
                                             build_location="/src/recommender_demo",
                                             dockerfile=Dockerfile("Dockerfile.train")),
                      loss_metric="rmse", loss_metric_selector="less")

which is the same as ``Task("TrainMyelinRecommender", train=TrainSpec(image_build=..., ...))``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Literal

from pydantic import Field, model_validator

from ..errors import MyelinError
from ._base import Ref, Registered, SpecModel, exactly_one

TaskKind = Literal["container", "train", "deploy", "spark"]
TASK_KINDS: tuple[TaskKind, ...] = ("container", "train", "deploy", "spark")


class Dockerfile(SpecModel):
    """Build with a Dockerfile, ``path`` relative to the build location."""

    path: str = "Dockerfile"

    def __init__(self, path: str | None = None, /, **data: Any) -> None:
        if path is not None:
            data["path"] = path
        super().__init__(**data)


class S2I(SpecModel):
    """Build with source-to-image: ``contextDir`` (relative to the build location) and a builder image.

    The legacy misspelling ``buiderImage`` of 2019 axons is read as ``builderImage``.
    """

    context_dir: str = "."
    builder_image: str = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _legacy_key(cls, data: Any) -> Any:
        if isinstance(data, dict) and "buiderImage" in data and "builderImage" not in data:
            data = dict(data)
            data["builderImage"] = data.pop("buiderImage")
        return data


class ImageBuild(SpecModel):
    """Build the task's image from an artifact and push it to ``<registry>/<repositoryName>:<tag>``."""

    repository_name: str = Field(min_length=1)
    artifact: Ref | None = None
    build_location: str | None = None
    check_image_exists: bool = False
    dockerfile: Dockerfile | None = None
    s2i: S2I | None = Field(default=None, alias="s2i")  # to_camel would say "s2I"
    volume_mounts: list[dict[str, Any]] = []
    volumes: list[dict[str, Any]] = []

    @model_validator(mode="after")
    def _one_builder(self) -> ImageBuild:
        exactly_one(self, ("dockerfile", "s2i"), "an imageBuild")
        return self

    @property
    def builder(self) -> Literal["dockerfile", "s2i"]:
        return "dockerfile" if self.dockerfile is not None else "s2i"


class EnvVar(SpecModel):
    """An environment variable: a ``value`` (may use ``{{workflow.parameters.x}}``) or a ``valueFrom``."""

    name: str = Field(min_length=1)
    value: str | None = None
    value_from: dict[str, Any] | None = None


class Resources(SpecModel):
    """Kubernetes resource requests and limits, e.g. ``{"limits": {"nvidia.com/gpu": 1}}``."""

    requests: dict[str, str | int | float] = {}
    limits: dict[str, str | int | float] = {}


class TaskBody(SpecModel):
    """What every kind of task has: an image (given, or built), environment, resources, placement."""

    image: str | None = None
    image_build: ImageBuild | None = None
    command: list[str] | None = None
    args: list[str] | None = None
    env: list[EnvVar] = []
    resources: Resources | None = None
    node_selector: dict[str, str] = {}

    @model_validator(mode="after")
    def _image_or_build(self) -> TaskBody:
        if self.image is not None and self.image_build is not None:
            raise ValueError("give either image or imageBuild, not both")
        return self


class ContainerSpec(TaskBody):
    """A plain container task (data preparation, batch jobs)."""


class MetricSpec(SpecModel):
    """A metric a train task publishes."""

    name: str = Field(min_length=1)
    type: Literal["Gauge", "Counter", "Summary", "Histogram"] = "Gauge"


class TrainSpec(TaskBody):
    """A training task. It writes model versions under ``MODEL_PATH``; ``lossMetric`` ranks them."""

    loss_metric: str | None = None
    loss_metric_selector: Literal["greater", "less", "lower"] | None = None
    metrics: list[MetricSpec] = []
    hp_tuning: dict[str, Any] | None = None
    tf_job_spec: dict[str, Any] | None = None


class DeploySpec(TaskBody):
    """A serving task: the image that serves a trained model (Seldon Python wrapper, s2i or Dockerfile)."""

    endpoint_type: Literal["REST", "GRPC"] | None = None
    endpoint_rest_type: str | None = None
    deployment_type: str | None = None
    replicas: int | None = Field(default=None, ge=0)


class SparkSpec(TaskBody):
    """A Spark application (kept in the model; compiling it is not supported yet)."""

    spark_spec: dict[str, Any] | None = None


#: Fields of a Kubeflow ``TFJobSpec`` that the 2019 ``tfJob:`` task kind wrote beside the task body.
TF_JOB_FIELDS = (
    "tfReplicaSpecs",
    "cleanPodPolicy",
    "ttlSecondsAfterFinished",
    "activeDeadlineSeconds",
    "backoffLimit",
    "runPolicy",
    "enableDynamicWorker",
    "successPolicy",
)
#: Fields of a Spark application that the flat 2019-07 ``spark:`` form wrote beside the task body.
SPARK_FIELDS = (
    "class",
    "jars",
    "properties",
    "propertiesConfigMap",
    "propertiesConfigMapKey",
    "deployMode",
    "mainApplicationFile",
    "mainClass",
    "files",
    "pyFiles",
    "packages",
    "conf",
    "sparkConf",
    "hadoopConf",
    "sparkVersion",
    "pythonVersion",
    "mode",
    "type",
    "driver",
    "executor",
)


def _legacy_task(data: dict[str, Any]) -> dict[str, Any]:
    """Normalise the 2019 task forms: ``tfJob:`` (a train task with a ``tfJobSpec``) and the flat
    ``spark: {class, jars, properties, args, ...}`` (those fields move into ``sparkSpec``)."""
    data = dict(data)
    tf_job = data.get("tfJob", data.get("tf_job"))
    if isinstance(tf_job, dict) and "train" not in data:
        data.pop("tfJob", None)
        data.pop("tf_job", None)
        body = dict(tf_job)
        spec = dict(body.pop("tfJobSpec", None) or {})
        spec.update({k: body.pop(k) for k in TF_JOB_FIELDS if k in body})
        # an empty spec would vanish when written: keep the mark that this is a TFJob
        body["tfJobSpec"] = spec or {"tfReplicaSpecs": None}
        data["train"] = body
    spark = data.get("spark")
    if isinstance(spark, dict) and any(k in spark for k in SPARK_FIELDS):
        body = dict(spark)
        spec = dict(body.pop("sparkSpec", None) or {})
        spec.update({k: body.pop(k) for k in SPARK_FIELDS if k in body})
        if "args" in body:  # beside class/jars, args are the Spark application's
            spec["args"] = body.pop("args")
        body["sparkSpec"] = spec
        data["spark"] = body
    return data


class Task(Registered):
    """A named task with exactly one body: ``container``, ``train``, ``deploy`` or ``spark``.

    The 2019 forms are read too: ``tfJob:`` (becomes a ``train`` task with a ``tfJobSpec``) and the flat
    ``spark: {class, jars, properties, ...}`` (those fields move into ``sparkSpec``).
    """

    def __init__(self, name: str | None = None, /, **data: Any) -> None:
        super().__init__(name, **data)

    name: str = Field(min_length=1)
    container: ContainerSpec | None = None
    train: TrainSpec | None = None
    deploy: DeploySpec | None = None
    spark: SparkSpec | None = None

    @model_validator(mode="before")
    @classmethod
    def _legacy(cls, data: Any) -> Any:
        return _legacy_task(data) if isinstance(data, dict) else data

    @model_validator(mode="after")
    def _one_kind(self) -> Task:
        exactly_one(self, TASK_KINDS, "a task")
        return self

    @property
    def kind(self) -> TaskKind:
        """``container``, ``train``, ``deploy`` or ``spark``."""
        return next(k for k in TASK_KINDS if getattr(self, k) is not None)

    @property
    def body(self) -> TaskBody:
        """The task's body (``self.train`` for a train task, and so on)."""
        body = getattr(self, self.kind)
        assert isinstance(body, TaskBody)
        return body


def _flat(kind: TaskKind, spec: type[TaskBody], name: str | None, data: dict[str, Any]) -> dict[str, Any]:
    own = {"name": data.pop("name")} if "name" in data else {}
    if name is not None:
        own["name"] = name
    if kind not in data:
        try:
            own[kind] = spec(**data)
        except MyelinError as exc:  # name the class the user called: TrainTask.loss_metrik, not TrainSpec
            dsl = f"{kind.capitalize()}Task"
            raise MyelinError(
                [replace(d, path=dsl + d.path.removeprefix(spec.__name__)) for d in exc.diagnostics]
            ) from None
    else:
        own.update(data)
    return own


class ContainerTask(Task):
    """``ContainerTask("DataPrep", image="python:3.11", command=[...])`` — a ``container`` task."""

    __dsl_base__ = Task

    def __init__(self, name: str | None = None, /, **data: Any) -> None:
        super().__init__(**_flat("container", ContainerSpec, name, data))


class TrainTask(Task):
    """``TrainTask("Train", image_build=..., loss_metric="rmse")`` — a ``train`` task."""

    __dsl_base__ = Task

    def __init__(self, name: str | None = None, /, **data: Any) -> None:
        super().__init__(**_flat("train", TrainSpec, name, data))


class DeployTask(Task):
    """``DeployTask("Deploy", image_build=..., endpoint_type="REST")`` — a ``deploy`` task."""

    __dsl_base__ = Task

    def __init__(self, name: str | None = None, /, **data: Any) -> None:
        super().__init__(**_flat("deploy", DeploySpec, name, data))
