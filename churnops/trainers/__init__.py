"""Training: `train(cfg)` under a launcher (local | torch_distributor | ray), tracked in MLflow.

Import `churnops.trainers.train.train` and `churnops.trainers.config.load_train_config`; the
heavy parts (Lightning, Spark, Ray, MLflow) load only when a run needs them.
"""
