# out/schedule.py
from myelin_sdk import Axon, Calendar, Sensor, TrainTask

with Axon("cal-demo") as axon:
    train = TrainTask("Train", image="python:3.12-slim", command=["python", "train.py"])
    Sensor("Nightly",
           triggers=[Calendar(name="at-three", schedule="0 3 * * *", timezone="Europe/Paris"),
                     Calendar(name="every-six-hours", interval="6h")],
           tasks=[train])

if __name__ == "__main__":
    axon.main()
