# out/rest.py
from myelin_sdk import Axon, Rest, Sensor, TrainTask

with Axon("rest-demo") as axon:
    train = TrainTask("Train", image="python:3.12-slim", command=["python", "train.py"])
    Sensor("Retrain", triggers=[Rest("now")], tasks=[train])

if __name__ == "__main__":
    axon.main()
