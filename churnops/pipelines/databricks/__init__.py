"""The same job specs on Databricks: a bundle export, a Jobs API deploy, task values."""
