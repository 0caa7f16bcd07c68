"""churnops: churn-prediction MLOps on one machine, the same code on Spark, Ray and Databricks."""

__version__ = "0.1.0"
