# out/env.py
from myelin_sdk import Axon, ContainerTask, EnvVar, Parameter, Sensor

with Axon("params-demo") as axon:
    Parameter("epochs", value="10")
    train = ContainerTask(
        "Train",
        image="python:3.11-slim",
        command=["python", "train.py"],
        env=[EnvVar(name="EPOCHS", value="{{workflow.parameters.epochs}}"),
             EnvVar(name="WHO", value="{{item}}")],
    )
    Sensor("OnStart", tasks=[train])
