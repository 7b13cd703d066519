# out/metric.py
from myelin_sdk import Axon, ContainerTask, Lifecycle, Metric, Sensor, TrainTask

with Axon("gate-demo") as axon:
    train = TrainTask("Train", image="python:3.12-slim", command=["python", "train.py"])
    publish = ContainerTask("Publish", image="alpine:3.20", command=["echo", "publish"])
    Sensor("PublishIfGood",
           triggers=[Lifecycle(train)],
           conditions=[Metric("{{train_rmse}} < 0.95 and {{train_samples}} >= 1000",
                              interval="30s", count=3, failure_limit=1)],
           tasks=[publish])

if __name__ == "__main__":
    axon.main()
