# out/lifecycle.py
from myelin_sdk import Axon, ContainerTask, Lifecycle, Sensor, TrainTask

with Axon("lc-demo") as axon:
    train = TrainTask("Train", image="python:3.12-slim", command=["python", "-c", "print('training')"])
    report = ContainerTask("Report", image="busybox:1.36", command=["echo", "report"])
    Sensor("TrainOnStart", tasks=[train])
    Sensor("AfterTrain", triggers=[Lifecycle(train, "Succeeded"), Lifecycle(train, "Failed")], tasks=[report])

if __name__ == "__main__":
    axon.main()
