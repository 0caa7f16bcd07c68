"""Deploy through the real databricks-sdk against a local server that records the Jobs API calls.

What is not run here: a real workspace (auth, cluster start, the wheel task itself).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from churnops.pipelines.databricks.deploy import deploy, workspace_client


class FakeJobsAPI(BaseHTTPRequestHandler):
    """Answers jobs/list, jobs/create and jobs/reset like the Jobs API; records each request."""

    calls: list[dict[str, Any]]
    jobs: dict[int, dict[str, Any]]

    def _reply(self, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        self.calls.append({"method": "GET", "path": url.path, "query": query,
                           "auth": self.headers.get("Authorization")})  # fmt: skip
        if url.path.endswith("/jobs/list"):
            found = [
                {"job_id": i, "settings": {"name": s["name"]}}
                for i, s in self.jobs.items()
                if s["name"] == query.get("name")
            ]
            self._reply({"jobs": found, "has_more": False} if found else {"has_more": False})
        else:
            self.send_error(404)

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
        url = urlparse(self.path)
        self.calls.append({"method": "POST", "path": url.path, "body": body,
                           "auth": self.headers.get("Authorization")})  # fmt: skip
        if url.path.endswith("/jobs/create"):
            job_id = 1000 + len(self.jobs)
            self.jobs[job_id] = body
            self._reply({"job_id": job_id})
        elif url.path.endswith("/jobs/reset"):
            self.jobs[body["job_id"]] = body["new_settings"]
            self._reply({})
        else:
            self.send_error(404)

    def log_message(self, *args: Any) -> None:  # keep the test output quiet
        pass


@pytest.fixture
def jobs_api():
    handler = type("Handler", (FakeJobsAPI,), {"calls": [], "jobs": {}})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, handler
    server.shutdown()
    server.server_close()


def test_deploy_creates_then_resets_the_jobs(jobs_api) -> None:
    server, api = jobs_api
    host = f"http://127.0.0.1:{server.server_address[1]}"
    client = workspace_client(host=host, token="dapi-test", retry_timeout_seconds=5)
    wheel = "/Volumes/main/churnops/wheels/churnops-0.1.0-py3-none-any.whl"

    first = deploy(client, ["monitoring", "training"], wheel)

    # training is created first: monitoring's run_job_task needs its id
    assert [(d.name, d.action) for d in first] == [
        ("training", "created"),
        ("monitoring", "created"),
    ]
    creates = [c for c in api.calls if c["path"].endswith("/jobs/create")]
    assert [c["body"]["name"] for c in creates] == ["training", "monitoring"]
    assert all(c["auth"] == "Bearer dapi-test" for c in api.calls if "/jobs/" in c["path"])
    training, monitoring = (c["body"] for c in creates)
    retrain = next(t for t in monitoring["tasks"] if t["task_key"] == "retrain")
    assert retrain["run_job_task"]["job_id"] == first[0].job_id
    wheel_task = next(t for t in training["tasks"] if t["task_key"] == "model_training")
    assert wheel_task["libraries"] == [{"whl": wheel}]
    assert wheel_task["python_wheel_task"]["parameters"][:3] == [
        "pipeline",
        "task",
        "model_training",
    ]
    assert training["schedule"]["quartz_cron_expression"] == "0 0 2 ? * MON"

    api.calls.clear()
    second = deploy(client, ["monitoring", "training"], wheel)
    assert [(d.action, d.job_id) for d in second] == [("reset", d.job_id) for d in first]
    resets = [c["body"] for c in api.calls if c["path"].endswith("/jobs/reset")]
    assert [r["job_id"] for r in resets] == [d.job_id for d in first]
    assert resets[0]["new_settings"]["name"] == "training"
    lists = [c["query"] for c in api.calls if c["path"].endswith("/jobs/list")]
    assert [q["name"] for q in lists] == ["training", "monitoring"]


def test_two_jobs_of_one_name_are_refused(jobs_api) -> None:
    server, api = jobs_api
    api.jobs.update({1: {"name": "training"}, 2: {"name": "training"}})
    client = workspace_client(
        host=f"http://127.0.0.1:{server.server_address[1]}", token="t", retry_timeout_seconds=5
    )
    with pytest.raises(ValueError, match=r"2 jobs of that name on the workspace \(\[1, 2\]\)"):
        deploy(client, ["training"], "/Volumes/x.whl")
