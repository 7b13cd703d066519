"""A train task with ``hpTuning`` -> a Katib ``Experiment`` whose trials are Argo Workflows of the task.

The task's WorkflowTemplate builds the image, then its ``run`` step creates the Experiment and waits for it
(an Argo ``resource`` step: success once Katib set ``status.completionTime`` with at least one succeeded
trial; failure as soon as a trial failed, as ``maxFailedTrialCount: 0`` makes Katib fail the experiment).
Each trial is a Workflow from the WorkflowTemplate ``<axon>-<task>-trial`` (:func:`trial_workflow_template`):

1. ``hpo-params`` runs :mod:`myelin_sdk.runtime.hpo` (the same code ``myelin run`` builds its trials with):
   it prints the original contract's ``HPO_PARAMS`` (base64 of the parameters, ``config-id`` = the trial's
   name, ``budget`` and ``hpo-conf``, values typed as declared) and writes the original controller's trial
   arguments ``--config_id ID --budget B --<param> VALUE ...`` as its output parameters ``arg-<i>``; the
   budget is the rung of the original's ladder (``maxBudget * eta**-k``) that Katib's hyperband resource
   ``hpo_budget`` (``eta**k`` of ``r_l = eta**s_max``) stands for, ``maxBudget`` for RandomSearch;
2. ``run`` runs the task (its container, or its TFJob with ``tfJobSpec``) with ``HPO_PARAMS`` and
   ``LOSS_METRIC`` in its environment and those arguments appended to its ``args`` (as the original
   controller passed them: with no ``command`` they follow the image's ``ENTRYPOINT`` and replace its
   ``CMD``), ``MODEL_PATH`` a fresh version folder; ``TASK_ID`` is ``<task id>-<trial>``, so concurrent
   trials push their loss under their own Pushgateway job;
3. ``register`` records the version folder with the metrics the trial pushed (as for any train run);
4. ``report`` prints ``<lossMetric>=<value>`` from the version's ``metrics.json``: Katib's default
   ``StdOut`` metrics collector reads that line from this step's pod (``primaryPodLabels``), so Katib ranks
   trials by exactly the value the deployer will rank versions by.

Every trial leaves a registered version; a deployer with ``modelSelectionStrategy: best`` picks the best one
by ``lossMetric`` among them, which is the best trial's. Mapping: ``lossMetricSelector: greater`` ->
``maximize``, else ``minimize``; HyperBand and BOHB -> ``hyperband`` (``eta=3``, ``r_l = eta**s_max``,
``resource_name: hpo_budget``; BOHB's model-based sampling becomes random sampling),
RandomSearch -> ``random``; ``log: true`` -> ``distribution: logUniform``. Katib's hyperband needs
``parallelTrialCount >= eta ** s_max``: a smaller ``concurrency`` is raised to that, with a warning.
Cluster prerequisites: Katib with ``Workflow.v1alpha1.argoproj.io`` in its ``trialResources``.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from typing import Any, cast

import yaml
from hera.workflows import Container, Step, Steps
from hera.workflows import models as m

from .. import contract
from ..config import CompileOptions
from ..errors import Diagnostic
from ..names import dns_label
from ..runtime import register_script
from ..spec import Axon, Task
from ..yamlio import dump
from .hpo import BUDGET_PARAM, ETA, HpTuning, read_hp_tuning
from .operators import awaited_resource, operator_object, plain
from .storage import VOLUME_NAME
from .workflows import (
    ENTRYPOINT,
    EXECUTION_START,
    _run_template,
    axon_workflow_template,
    execution_model_path,
    task_volumes,
)

__all__ = [
    "experiment_manifest",
    "experiment_template",
    "hpo_errors",
    "trial_template_name",
    "trial_workflow_template",
]

API_VERSION = "kubeflow.org/v1beta1"
KIND = "Experiment"
#: The label Katib injects its metrics collector by (on the ``report`` step's pod only).
PRIMARY_LABEL = "katib.kubeflow.org/model-training"
#: Katib's trial parameter carrying the trial's name (its ``config-id``).
TRIAL_PARAM = "hpo_trial"
HPO_PARAMS = "HPO_PARAMS"
#: Where the ``hpo-params`` step writes the trial's arguments (an emptyDir: the step's root may be read-only).
ARGS_DIR = "/tmp/hpo"
ARGS_VOLUME = "hpo-args"


def hp_tuning(task: Task) -> HpTuning:
    """The checked ``hpTuning`` of ``task`` (lint reported any error first)."""
    assert task.train is not None
    spec, problems = read_hp_tuning(task.train.hp_tuning, "hpTuning")
    assert spec is not None, problems
    return spec


def hpo_errors(task: Task, path: str) -> list[Diagnostic]:
    """What Katib would reject in the ``hpTuning`` at ``path``, and what trials need (a ``lossMetric``)."""
    assert task.train is not None
    out = read_hp_tuning(task.train.hp_tuning, path)[1]
    metric = task.train.loss_metric
    where = path.rsplit(".", 1)[0] + ".lossMetric"
    if not metric:
        out.append(
            Diagnostic(where, "hpTuning needs a lossMetric: the metric the trials publish and are ranked by")
        )
    elif not re.fullmatch(r"[\w-]+", metric):
        out.append(
            Diagnostic(
                where, f"{metric!r}: Katib reads trial metrics named with letters, digits, '_' and '-' only"
            )
        )
    return out


def hpo_warnings(task: Task, path: str) -> list[Diagnostic]:
    """Katib's hyperband needs more parallel trials than ``concurrency`` asks for (nothing for a malformed
    ``hpTuning``: :func:`hpo_errors` reports that)."""
    assert task.train is not None
    spec = read_hp_tuning(task.train.hp_tuning, path)[0]
    if spec is None or spec.concurrency >= spec.katib_min_parallel:
        return []
    return [
        Diagnostic(
            f"{path}.concurrency",
            f"Katib's hyperband runs a bracket's {spec.katib_min_parallel} "
            f"trials at once (eta**s_max, eta={ETA}): parallelTrialCount is "
            f"{spec.katib_min_parallel}, not {spec.concurrency}",
            severity="warning",
        )
    ]


def trial_template_name(axon: Axon, task: Task) -> str:
    return dns_label(axon.name, task.name, "trial")


def _argument(index: int) -> str:
    return f"hp-{index}"


def experiment_manifest(axon: Axon, task: Task, options: CompileOptions) -> dict[str, Any]:
    """The Experiment of ``task`` (see the module docstring)."""
    assert task.train is not None and task.train.loss_metric
    spec = hp_tuning(task)
    parameters: list[dict[str, Any]] = []
    for p in spec.params:
        space: dict[str, Any] = (
            {"list": p.katib_values}
            if p.type == "Categorical"
            else {"min": p.bound(p.low), "max": p.bound(p.high)}
        )
        if p.log:
            space["distribution"] = "logUniform"
        parameters.append({"name": p.name, "parameterType": p.katib_type, "feasibleSpace": space})
    settings: list[dict[str, str]] = []
    budget = repr(float(spec.max_budget))
    if spec.algorithm == "hyperband":  # resource eta**k <-> budget maxBudget * eta**(k - s_max)
        settings = [
            {"name": "eta", "value": str(spec.eta)},
            {"name": "r_l", "value": repr(spec.katib_r_l)},
            {"name": "resource_name", "value": BUDGET_PARAM},
        ]
        parameters.append(
            {
                "name": BUDGET_PARAM,
                "parameterType": "int",
                "feasibleSpace": {"min": "1", "max": str(max(spec.eta**spec.s_max, 2))},
            }
        )
        budget = f"${{trialParameters.{BUDGET_PARAM}}}"
    parallel = max(spec.concurrency, spec.katib_min_parallel)
    trial_parameters = [{"name": TRIAL_PARAM, "reference": "${trialSpec.Name}"}]
    trial_parameters += [{"name": p["name"], "reference": p["name"]} for p in parameters]
    arguments = [
        {"name": "trial", "value": f"${{trialParameters.{TRIAL_PARAM}}}"},
        {"name": "budget", "value": budget},
    ]
    arguments += [
        {"name": _argument(i), "value": f"${{trialParameters.{p.name}}}"} for i, p in enumerate(spec.params)
    ]
    algorithm: dict[str, Any] = {"algorithmName": spec.algorithm}
    if settings:
        algorithm["algorithmSettings"] = settings
    experiment: dict[str, Any] = {
        "objective": {
            "type": "maximize" if task.train.loss_metric_selector == "greater" else "minimize",
            "objectiveMetricName": task.train.loss_metric,
        },
        "algorithm": algorithm,
        "parallelTrialCount": parallel,
        "maxTrialCount": max(spec.max_trials, parallel),
        "maxFailedTrialCount": 0,
        "metricsCollectorSpec": {"collector": {"kind": "StdOut"}},
        "parameters": parameters,
        "trialTemplate": {
            "primaryContainerName": "main",
            "primaryPodLabels": {PRIMARY_LABEL: "true"},
            "successCondition": 'status.[@this].#(phase=="Succeeded")#',
            "failureCondition": 'status.[@this].#(phase=="Failed")#',
            "trialParameters": trial_parameters,
            "trialSpec": {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "Workflow",
                "spec": {
                    "workflowTemplateRef": {"name": trial_template_name(axon, task)},
                    "arguments": {"parameters": arguments},
                },
            },
        },
    }
    return operator_object(API_VERSION, KIND, axon, task, experiment, name_length=30)


def experiment_template(axon: Axon, task: Task, options: CompileOptions) -> m.Template:
    """The ``run`` template of the task's WorkflowTemplate: create the Experiment, wait for its end."""
    return awaited_resource(
        experiment_manifest(axon, task, options),
        success="status.completionTime,status.trialsSucceeded > 0",
        failure="status.trialsFailed > 0",
    )


#: ``report``: argv = metrics.json, loss metric; prints ``<metric>=<value>`` for Katib's StdOut collector, the
#: value without an exponent (older Katib filters read ``-?\d+(\.\d+)?`` only).
_REPORT_CODE = """\
import decimal, json, sys
path, metric = sys.argv[1], sys.argv[2]
try:
    value = float(json.load(open(path))["metrics"][metric])
except (OSError, KeyError, TypeError, ValueError) as exc:
    sys.exit(f"no {metric} registered for this trial ({path}: {exc!r}): publish it with publish_result")
print(f"{metric}={decimal.Decimal(repr(value)):f}")
"""


def _trial_env(axon: Axon, task: Task) -> list[dict[str, Any]]:
    return [
        {"name": HPO_PARAMS, "value": "{{inputs.parameters.hpo-params}}"},
        {
            "name": contract.TASK_ID,
            "value": f"{contract.task_id(axon.name, task.name)}-{{{{workflow.parameters.trial}}}}",
        },
    ]


def hpo_source() -> str:
    """The source of :mod:`myelin_sdk.runtime.hpo`, run by the ``hpo-params`` step with ``python -c``."""
    source = resources.files("myelin_sdk.runtime").joinpath("hpo.py").read_text(encoding="utf-8")
    if "{{" in source:  # pragma: no cover - guards an edit of the module: Argo would substitute it
        raise RuntimeError("runtime/hpo.py must not contain '{{' (Argo templating)")
    return source


def _arg_names(spec: HpTuning) -> list[str]:
    """The output parameters of ``hpo-params`` holding the trial's arguments (``--config_id ID --budget B``,
    then ``--<param> VALUE`` for each parameter)."""
    return [f"arg-{i}" for i in range(4 + 2 * len(spec.params))]


def _hpo_params_template(spec: HpTuning, options: CompileOptions) -> m.Template:
    config = {
        "params": [[p.name, p.type, list(p.values) or None] for p in spec.params],
        "budgets": spec.rungs,
    }
    return m.Template(
        name="hpo-params",
        container=m.Container(
            image=options.python_image,
            command=["python", "-c", hpo_source()],
            args=[
                "--spec",
                json.dumps(config, sort_keys=True),
                "--trial",
                "{{workflow.parameters.trial}}",
                "--resource",
                "{{workflow.parameters.budget}}",
                "--out",
                ARGS_DIR,
                "--",
                *[f"{{{{workflow.parameters.{_argument(i)}}}}}" for i in range(len(spec.params))],
            ],
            volume_mounts=[m.VolumeMount(name=ARGS_VOLUME, mount_path=ARGS_DIR)],
        ),
        outputs=m.Outputs(
            parameters=[
                m.Parameter(name=n, value_from=m.ValueFrom(path=f"{ARGS_DIR}/{n}")) for n in _arg_names(spec)
            ]
        ),
    )


def _with_trial_args(args: list[str] | None, spec: HpTuning) -> list[str]:
    """A container's ``args`` with the trial's arguments appended, as the original controller passed them
    (with neither ``command`` nor ``args`` they follow the image's ``ENTRYPOINT`` and replace its ``CMD``)."""
    return [*(args or []), *(f"{{{{inputs.parameters.{n}}}}}" for n in _arg_names(spec))]


def _tfjob_trial_template(axon: Axon, task: Task, options: CompileOptions, spec: HpTuning) -> m.Template:
    """The TFJob ``run`` template of a trial: every replica's ``tensorflow`` container gets the trial's
    environment and arguments."""
    from .tfjob import tfjob_template

    template = tfjob_template(
        axon, task, options, env=_trial_env(axon, task), inputs=("hpo-params", *_arg_names(spec))
    )
    assert template.resource is not None and template.resource.manifest is not None
    job = yaml.safe_load(template.resource.manifest)
    for replica in job["spec"]["tfReplicaSpecs"].values():
        for container in replica["template"]["spec"]["containers"]:
            if container.get("name") == "tensorflow":
                container["args"] = _with_trial_args(container.get("args"), spec)
    template.resource.manifest = dump(plain(job))
    return template


def trial_workflow_template(axon: Axon, task: Task, options: CompileOptions) -> dict[str, Any]:
    """The WorkflowTemplate each Katib trial runs (see the module docstring)."""
    assert task.train is not None and task.train.loss_metric
    spec = hp_tuning(task)
    job = f"{contract.task_id(axon.name, task.name)}-{{{{workflow.parameters.trial}}}}"
    mount = m.VolumeMount(name=VOLUME_NAME, mount_path=contract.STORE_MOUNT)
    folder = execution_model_path(task)
    names = _arg_names(spec)
    volumes = [v for v in task_volumes(axon, task, options) if v["name"] == VOLUME_NAME]
    with axon_workflow_template(
        axon,
        trial_template_name(axon, task),
        options,
        original=task.name,
        volumes=[*volumes, {"name": ARGS_VOLUME, "emptyDir": {}}],
        task=dns_label(task.name),
    ) as wt:
        report = Container(
            name="report",
            image=options.python_image,
            command=["python", "-c", _REPORT_CODE],
            args=[folder + "metrics.json", task.train.loss_metric],
            volume_mounts=[mount],
            labels={PRIMARY_LABEL: "true"},
        )
        if task.train.tf_job_spec is None:  # the task's own run container, with the trial's environment
            run = _run_template(axon, task, options)
            extra = {e["name"]: e for e in _trial_env(axon, task)}
            current = cast("list[m.EnvVar]", run.env or [])
            env = [m.EnvVar.model_validate(extra.pop(e.name)) if e.name in extra else e for e in current]
            run.env = [*env, *(m.EnvVar.model_validate(e) for e in extra.values())]
            run.args = _with_trial_args(run.args, spec)
            run.inputs = [m.Parameter(name=n) for n in ("hpo-params", *names)]
        arguments = {"hpo-params": "{{steps.hpo-params.outputs.result}}"}
        arguments |= {n: f"{{{{steps.hpo-params.outputs.parameters.{n}}}}}" for n in names}
        with Steps(name=ENTRYPOINT):
            Step(name="hpo-params", template="hpo-params")
            Step(name="run", template="run", arguments=arguments)
            Step(name="register", template="register")
            report(name="report")
    wt.templates.insert(0, _hpo_params_template(spec, options))
    if task.train.tf_job_spec is not None:
        wt.templates.append(_tfjob_trial_template(axon, task, options, spec))
    register = m.Template(
        name="register",
        script=m.ScriptTemplate(
            image=options.python_image,
            command=["python"],
            source=register_script(
                [
                    "--folder",
                    folder,
                    "--pushgateway",
                    options.pushgateway_url,
                    "--job",
                    job,
                    "--axon",
                    axon.name,
                    "--since",
                    EXECUTION_START,
                ]
            ),
            volume_mounts=[mount],
        ),
    )
    wt.templates.append(register)
    workflow: dict[str, Any] = wt.to_dict()
    parameters = workflow["spec"].setdefault("arguments", {}).setdefault("parameters", [])
    parameters += [{"name": n} for n in ("trial", "budget", *(_argument(i) for i in range(len(spec.params))))]
    return workflow
