"""Deploy and run through the real databricks-sdk against a local stand-in of the Jobs API.

The stand-in records each call and answers as the REST API does: jobs/list, create, reset,
run-now, runs/get, and the workspace import of the task notebook. It runs no task: a run it
starts reports RUNNING once, then TERMINATED with the result state the test sets. What is not
run here: a real workspace (auth, cluster start, the notebook task itself).
"""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from churnops.pipelines.databricks.bundle import load_bundle_config
from churnops.pipelines.databricks.deploy import deploy, run_now, workspace_client
from churnops.pipelines.databricks.task_values import NOTEBOOK_SOURCE


class FakeJobsAPI(BaseHTTPRequestHandler):
    """Answers the Jobs API calls deploy and run_now make; records each request."""

    calls: list[dict[str, Any]]
    jobs: dict[int, dict[str, Any]]
    runs: dict[int, dict[str, Any]]
    files: dict[str, bytes]
    result_state: str

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
        elif url.path.endswith("/jobs/runs/get"):
            run = self.runs[int(query["run_id"])]
            polls = run.pop("polls")
            done = polls > 0  # the first poll sees it running, the next one ended
            run["polls"] = polls + 1
            tasks = self.jobs[run["job_id"]]["tasks"]
            self._reply({
                "run_id": run["run_id"], "job_id": run["job_id"],
                "job_parameters": run["job_parameters"],
                "state": {"life_cycle_state": "TERMINATED" if done else "RUNNING",
                          **({"result_state": self.result_state} if done else {})},
                "tasks": [{"task_key": t["task_key"],
                           "state": {"life_cycle_state": "TERMINATED" if done else "RUNNING",
                                     **({"result_state": self.result_state} if done else {})}}
                          for t in tasks],
            })  # fmt: skip
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
        elif url.path.endswith("/jobs/run-now"):
            if body["job_id"] not in self.jobs:
                self.send_error(400, f"job {body['job_id']} does not exist")
                return
            run_id = 5000 + len(self.runs)
            params = [{"name": k, "value": v} for k, v in body.get("job_parameters", {}).items()]
            self.runs[run_id] = {"run_id": run_id, "job_id": body["job_id"], "polls": 0,
                                 "job_parameters": params}  # fmt: skip
            self._reply({"run_id": run_id, "number_in_job": run_id})
        elif url.path.endswith("/workspace/mkdirs"):
            self._reply({})
        elif url.path.endswith("/workspace/import"):
            self.files[body["path"]] = base64.b64decode(body["content"])
            self._reply({})
        else:
            self.send_error(404)

    def log_message(self, *args: Any) -> None:  # keep the test output quiet
        pass


@pytest.fixture
def jobs_api():
    handler = type(
        "Handler",
        (FakeJobsAPI,),
        {"calls": [], "jobs": {}, "runs": {}, "files": {}, "result_state": "SUCCESS"},
    )
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
    task = next(t for t in training["tasks"] if t["task_key"] == "model_training")
    assert task["libraries"] == [{"whl": wheel}]
    notebook = load_bundle_config().notebook
    assert task["notebook_task"]["notebook_path"] == notebook
    assert task["notebook_task"]["base_parameters"]["churnops_task"] == "model_training"
    assert api.files == {notebook: NOTEBOOK_SOURCE.encode()}  # imported before the jobs
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


def test_deploy_then_run_now_then_get_run_round_trips(jobs_api) -> None:
    server, api = jobs_api
    client = workspace_client(
        host=f"http://127.0.0.1:{server.server_address[1]}", token="t", retry_timeout_seconds=5
    )
    (job,) = deploy(client, ["batch_inference"], "/Volumes/x.whl")
    run = run_now(client, job.job_id, {"as_of": "1998-01-31"}, timeout_minutes=1)
    assert run.life_cycle_state == "TERMINATED" and run.result_state == "SUCCESS"
    assert run.tasks == {"batch_inference": "SUCCESS"}
    started = next(c for c in api.calls if c["path"].endswith("/jobs/run-now"))
    assert started["body"] == {"job_id": job.job_id, "job_parameters": {"as_of": "1998-01-31"}}
    polls = [c for c in api.calls if c["path"].endswith("/jobs/runs/get")]
    assert len(polls) == 2  # RUNNING, then TERMINATED

    api.result_state = "FAILED"
    failed = run_now(client, job.job_id, timeout_minutes=1)
    assert failed.result_state == "FAILED" and failed.run_id != run.run_id


def test_a_bad_spec_is_refused_before_the_workspace_changes(jobs_api, tmp_path) -> None:
    server, api = jobs_api
    client = workspace_client(
        host=f"http://127.0.0.1:{server.server_address[1]}", token="t", retry_timeout_seconds=5
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: bad\nschedule: {quartz_cron_expression: '0 0 25 * * ?'}\n"
        "tasks: [{task_key: t, task: batch_inference}]\n"
    )
    with pytest.raises(ValueError, match="hour"):
        deploy(client, [str(bad)], "/Volumes/x.whl")
    assert not [c for c in api.calls if "/api/" in c["path"]] and api.files == {}


def test_the_deploy_command_runs_a_job_and_exits_by_its_result(jobs_api, monkeypatch) -> None:
    from churnops.cli import main

    server, api = jobs_api
    monkeypatch.setenv("DATABRICKS_HOST", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setenv("DATABRICKS_TOKEN", "t")
    argv = ["pipeline", "deploy", "batch_inference", "--target", "databricks",
            "--wheel", "/V/w.whl", "--run", "batch_inference"]  # fmt: skip
    assert main(argv) == 0
    assert [c["body"]["job_id"] for c in api.calls if c["path"].endswith("/jobs/run-now")] == [1000]
    api.result_state = "FAILED"
    assert main(argv) == 1  # the run failed: so does the command
    assert main([*argv[:-1], "training"]) == 2  # not deployed by this command
