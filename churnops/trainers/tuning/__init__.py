"""Hyperparameter sweeps: search spaces from configs, Ray Tune (Optuna TPE or HyperOpt search,
ASHA for the net) or hyperopt `fmin` with `SparkTrials`, every trial a nested MLflow run."""

from churnops.trainers.tuning.config import ParamSpace, TuneConfig, load_tune_config
from churnops.trainers.tuning.sweep import SweepResult, sweep
from churnops.trainers.tuning.trials import TrialRecord

__all__ = ["ParamSpace", "SweepResult", "TrialRecord", "TuneConfig", "load_tune_config", "sweep"]
