"""Model serving: the Databricks invocation API over MLflow pyfunc models, with online feature
lookup, a traffic split (sticky or random, header override, shadow), an inference log on Delta,
bearer auth, Prometheus metrics and reload without dropped requests.

Heavy parts (FastAPI, uvicorn, MLflow) load when `create_app` / `serve` are called.
"""

from churnops.serving.config import EndpointConfig, load_endpoint_config

__all__ = ["EndpointConfig", "load_endpoint_config"]
