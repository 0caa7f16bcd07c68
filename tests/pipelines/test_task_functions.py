import json

from churnops.pipelines.task_functions import run_in_files


def test_run_in_files_writes_the_outputs_or_the_error(tmp_path):
    inputs, outputs, error = (tmp_path / n for n in ("in.json", "out.json", "err.json"))
    inputs.write_text(json.dumps({"x": 2}))
    assert run_in_files(lambda d: {"y": d["x"] * 3}, inputs, outputs, error) == 0
    assert json.loads(outputs.read_text()) == {"y": 6} and not error.exists()

    def fail(_):
        raise ValueError("x=2: expected 3")

    assert run_in_files(fail, inputs, tmp_path / "out2.json", error) == 1
    assert json.loads(error.read_text()) == {"error": "ValueError: x=2: expected 3"}
    assert not (tmp_path / "out2.json").exists()
