# out/alert.py
from myelin_sdk import Alert, Axon, Sensor, TrainTask

with Axon("alert-demo") as axon:
    train = TrainTask("Train", image="python:3.12-slim", command=["python", "train.py"])
    Sensor("Retrain",
           triggers=[Alert("avg_over_time({{accuracy}}[10m]) < 0.90", name="LowAccuracy", for_="5m")],
           tasks=[train])

if __name__ == "__main__":
    axon.main()
