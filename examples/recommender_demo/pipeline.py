"""The movie recommender demo as a Python pipeline — the same Axon as ``recommender-demo.yaml``.

    python pipeline.py --yaml                 # the manifests, one YAML stream
    python pipeline.py --yaml -o manifests/   # one file per object + kustomization.yaml
    python pipeline.py --lint
    python pipeline.py --axon-yaml            # this Axon as Axon YAML

Three tasks (prepare MovieLens, train, serve) and three sensors: train on start; deploy as a 50/50 canary when
training succeeds and its RMSE is good enough; retrain when the served accuracy drops.
"""

from myelin_sdk import (
    S2I,
    Alert,
    Artifact,
    Axon,
    BackendModel,
    ContainerTask,
    Deployer,
    DeployTask,
    Destination,
    Dockerfile,
    Git,
    ImageBuild,
    Lifecycle,
    Metric,
    Model,
    RolloutStep,
    Sensor,
    TrainTask,
    VolumeClaimTemplate,
)

with Axon("ml-rec", api_version="myelinproj.io/v1alpha1") as axon:
    source = Artifact(
        "rec-source",
        path="/src",
        git=Git(repo="https://github.com/myelinio/myelin-examples.git", revision="master"),
    )
    VolumeClaimTemplate("axon-store", storage="1Gi", access_modes=["ReadWriteMany"], storage_class_name="nfs")

    prep = ContainerTask(
        "DataPrepMyelinRecommender",
        image_build=ImageBuild(
            repository_name="preprocess-myelin-recommender",
            artifact=source,
            build_location="/src/recommender_demo",
            dockerfile=Dockerfile("Dockerfile.preprocess"),
        ),
    )
    train = TrainTask(
        "TrainMyelinRecommender",
        image_build=ImageBuild(
            repository_name="train-myelin-recommender",
            artifact=source,
            build_location="/src/recommender_demo",
            dockerfile=Dockerfile("Dockerfile.train"),
        ),
        loss_metric="recommender_train_rmse",
        loss_metric_selector="less",
    )
    deploy = DeployTask(
        "DeployMyelinRecommender",
        endpoint_type="REST",
        endpoint_rest_type="Multipart",
        image_build=ImageBuild(
            repository_name="deploy-myelin-recommender",
            artifact=source,
            build_location="/src/",
            s2i=S2I(
                context_dir="recommender_demo",
                builder_image="docker.io/myelinio/myelin-deployer-s2i-py3:v0.1.4",
            ),
        ),
    )

    Sensor("TrainOnStart", tasks=[prep, train])

    Sensor(
        "DeploymentDecisionMaker",
        triggers=[Lifecycle(train, "Succeeded", name="mnistTrainingComplete")],
        conditions=[Metric("{{recommender_train_rmse}} < 0.95")],
        tasks=[
            Deployer(
                "recommenderdeployer",
                replicas=1,
                rollout_spec=[RolloutStep(destinations=[Destination(0, 50), Destination(1, 50)])],
                models=[
                    Model(
                        "RecommenderModel",
                        model_selection_strategy="best",
                        backend_models=[
                            BackendModel(
                                "BackendRecommender",
                                trainer=train,
                                deployer=deploy,
                                model_selection_strategy="best",
                            )
                        ],
                    )
                ],
            )
        ],
    )

    Sensor(
        "PostDeploymentDecisionMaker",
        triggers=[Alert("{{recommender_deploy_accuracy}} < 0.90", name="RecommenderDeployAccuracy")],
        tasks=[prep, train],
    )

if __name__ == "__main__":
    axon.main()
