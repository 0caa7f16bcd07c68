"""Pipelines: the lifecycle's stages as typed tasks, and the jobs that run them in order."""
