# out/hello/pipeline.py
from myelin_sdk import (Artifact, Axon, ContainerTask, Dockerfile, Git, ImageBuild, Lifecycle, Metric,
                        Sensor, TrainTask, VolumeClaimTemplate)

with Axon("hello-ml") as axon:
    src = Artifact("src", git=Git(repo="https://github.com/example/hello-ml.git", revision="main"))
    VolumeClaimTemplate("axon-store", storage="1Gi", access_modes=["ReadWriteMany"])
    prep = ContainerTask("Prep", image="python:3.11-slim", command=["python", "-c", "print('prep')"])
    train = TrainTask(
        "Train",
        image_build=ImageBuild(repository_name="hello-train", artifact=src, dockerfile=Dockerfile("Dockerfile")),
        loss_metric="rmse",
        loss_metric_selector="less",
    )
    Sensor("TrainOnStart", tasks=[prep, train])
    Sensor("Report", triggers=[Lifecycle(train, "Succeeded")], conditions=[Metric("{{rmse}} < 0.95")],
           tasks=[prep])

if __name__ == "__main__":
    axon.main()
