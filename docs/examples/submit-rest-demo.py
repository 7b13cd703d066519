from myelin_sdk import Axon, Rest, Sensor, TrainTask

with Axon("rest-demo") as axon:
    train = TrainTask("Train", image="python:3.12-slim", command=["python", "train.py"])
    Sensor("TrainOnStart", tasks=[train])
    Sensor("Retrain", triggers=[Rest("now")], tasks=[train])
