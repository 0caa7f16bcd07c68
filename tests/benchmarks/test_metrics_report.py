import json
import re
import shutil
from pathlib import Path

import pytest

from churnops.benchmarks import metrics_report as mr
from churnops.benchmarks.__main__ import main as benchmark_main
from churnops.benchmarks.report import RESULTS_DIR

ROW_REF = re.compile(r"(\w+\.json)\[(\d+)\]")
NUMBER = re.compile(r"(?<![\w.])\d+(?:,\d{3})*(?:\.\d+)?(?:e[-+]?\d+)?(?![\w])")
DATE = re.compile(r"\d{4}-\d{2}(?:-\d{2})?(?: \d{2}:\d{2} UTC)?")


def numbers_in(text: str) -> list[str]:
    return NUMBER.findall(text)


def traceable(results_dir: Path) -> tuple[set[str], set[str]]:
    """Every number and date a page may quote: what the results files hold, nothing else.

    Numbers: each JSON field as the page prints it (and digits inside string fields, such as
    the machine's core count), digits in a benchmark page's own load note, the cost-model
    rates, and the EC2 costs recomputed here from the JSON seconds.
    """
    numbers: set[str] = set()
    dates: set[str] = {r.as_of for r in mr.COST_MODEL}
    for name in mr.SOURCES:
        path = results_dir / name
        if not path.exists():
            continue
        rows = json.loads(path.read_text())
        numbers.add(mr.fmt(len(rows)))  # the sources table counts each file's rows
        for row in rows:
            for key, value in row.items():
                if key == "date":
                    dates.add(value)
                elif isinstance(value, str):  # e.g. a dataset named by its cutoff
                    numbers.update(numbers_in(value))
                    dates.update(DATE.findall(value))
                else:
                    numbers.update(numbers_in(mr.fmt(value)))
            if name in ("baselines.json", "tuning.json"):
                seconds = row["fit_seconds" if name == "baselines.json" else "seconds"]
                numbers.update(numbers_in(mr.fmt(seconds / 3600 * mr.EC2_CPU.usd)))
        for note in mr.load_notes(path.with_suffix(".md")):
            numbers.update(numbers_in(note))
    numbers.update(mr.fmt(r.usd) for r in mr.COST_MODEL if r.usd is not None)
    for rate in mr.COST_MODEL:  # the named instance's size, e.g. "(2 vCPU, 8 GiB)"
        numbers.update(numbers_in(rate.name))
    return numbers, dates


def untraced(page_text: str, results_dir: Path) -> list[str]:
    """Numbers and dates on the page that no results file (or cited rate) holds."""
    numbers, dates = traceable(results_dir)
    # Code, link targets and URLs name things (p50_ms, metrics/x.png); they quote no figure.
    text = re.sub(r"`[^`]*`", " ", page_text)
    text = re.sub(r"\]\([^)]*\)", "]", text)
    text = re.sub(r"https?://\S+", " ", text)
    # A `file[row]` reference must name a row that exists; its index is no figure.
    refs = ROW_REF.findall(text)
    bad = [
        f"{name}[{i}]"
        for name, i in refs
        if not (results_dir / name).exists()
        or int(i) >= len(json.loads((results_dir / name).read_text()))
    ]
    text = ROW_REF.sub(" ", text)
    bad += [d for d in DATE.findall(text) if d not in dates]
    text = DATE.sub(" ", text)
    return bad + [n for n in numbers_in(text) if n not in numbers]


def copy_results(tmp_path: Path, names: list[str]) -> Path:
    for name in names:
        shutil.copy(RESULTS_DIR / name, tmp_path / name)
        md = (RESULTS_DIR / name).with_suffix(".md")
        if md.exists():
            shutil.copy(md, tmp_path / md.name)
    return tmp_path


def test_every_number_on_the_committed_page_comes_from_a_results_file():
    page = (RESULTS_DIR / mr.PAGE).read_text()
    assert untraced(page, RESULTS_DIR) == []
    assert "serving.json[0]" in page and "baselines.json[4]" in page  # figures name their row


def test_the_committed_page_is_what_the_report_writes_from_the_committed_results(tmp_path):
    page = mr.write_report(RESULTS_DIR, tmp_path / mr.PAGE)
    assert page.read_text() == (RESULTS_DIR / mr.PAGE).read_text(), (
        "docs/results/METRICS.md is stale: run `scripts/benchmark report`"
    )


def test_the_check_catches_a_figure_no_benchmark_wrote():
    page = (RESULTS_DIR / mr.PAGE).read_text()
    serving = json.loads((RESULTS_DIR / "serving.json").read_text())
    p50 = mr.fmt(serving[0]["p50_ms"])
    assert f"| {p50} |" in page
    edited = page.replace(f"| {p50} |", "| 0.9123 |", 1)
    assert untraced(edited, RESULTS_DIR) == ["0.9123"]
    assert untraced(page + "\nTrained on 2031-01-01 UTC.\n", RESULTS_DIR) == ["2031-01-01"]


def test_report_quotes_the_fields_and_costs_the_cpu_seconds(tmp_path):
    results = copy_results(tmp_path, ["baselines.json", "serving.json"])
    text = mr.write_report(results).read_text()
    baselines = json.loads((results / "baselines.json").read_text())
    mlp = next(r for r in baselines if r["model"] == "mlp")
    row = next(line for line in text.splitlines() if "| mlp | local (in-process)" in line)
    cost = mr.fmt(mlp["fit_seconds"] / 3600 * mr.EC2_CPU.usd)
    assert f"| {mr.fmt(mlp['fit_seconds'])} | {cost} |" in row
    assert f"{mr.fmt(mlp['roc_auc_cv_mean'])} ± {mr.fmt(mlp['roc_auc_cv_std'])}" in text
    for pct in ("p50_ms", "p95_ms", "p99_ms"):
        assert f"| {mr.fmt(json.loads((results / 'serving.json').read_text())[0][pct])} |" in text
    assert mr.EC2_CPU.source.split()[0] in text and mr.EC2_CPU.as_of in text
    assert (tmp_path / "metrics" / "model_quality.png").stat().st_size > 0
    assert (tmp_path / "metrics" / "inference_latency.png").stat().st_size > 0
    assert untraced(text, results) == []


def test_missing_results_files_show_as_not_measured_yet(tmp_path):
    results = copy_results(tmp_path, ["serving.json"])
    text = mr.write_report(results).read_text()
    sections = text.split("\n## ")
    training = next(s for s in sections if s.startswith("Training"))
    features = next(s for s in sections if s.startswith("Feature computation"))
    assert "| all families | local (in-process) | cpu | not measured yet |" in training
    assert "| monitoring refresh | not measured yet |" in features
    assert "| features (as of a cutoff) | not measured yet |" in features
    assert "| baselines.json | `scripts/benchmark baselines` | not measured yet |" in text
    assert sorted(p.name for p in (tmp_path / "metrics").iterdir()) == ["inference_latency.png"]


def test_a_recorded_load_and_a_monitoring_refresh_are_quoted(tmp_path):
    rows = [
        {"case": "refresh-1day", "rows": 5000, "refresh_seconds": 3.25, "load_1m": 1.5,
         "machine": "m", "date": "2026-11-27 10:00 UTC"},
    ]  # fmt: skip
    (tmp_path / "monitoring.json").write_text(json.dumps(rows))
    text = mr.write_report(tmp_path).read_text()
    assert "| monitoring refresh | refresh-1day | 5,000 | 3.25 | - | monitoring.json[0] |" in text
    assert "| load_1m 1.5 |" in text
    assert untraced(text, tmp_path) == []


def test_a_bad_results_file_is_refused_naming_file_row_and_field_and_writes_nothing(tmp_path):
    results = copy_results(tmp_path, ["baselines.json"])
    rows = json.loads((results / "baselines.json").read_text())
    del rows[1]["fit_seconds"]
    (results / "baselines.json").write_text(json.dumps(rows))
    with pytest.raises(mr.MetricsReportError, match=r"baselines.json row 1: missing field 'fit_se"):
        mr.write_report(results)
    rows[1]["fit_seconds"] = "fast"
    (results / "baselines.json").write_text(json.dumps(rows))
    with pytest.raises(mr.MetricsReportError, match=r"'fit_seconds' = 'fast', expected float"):
        mr.write_report(results)
    (results / "serving.json").write_text('{"p50_ms": 1}')
    with pytest.raises(mr.MetricsReportError, match=r"serving.json: expected a list of row"):
        mr.write_report(results)
    assert not (results / mr.PAGE).exists() and not (results / "metrics").exists()


def test_scripts_benchmark_report_runs_the_metrics_report(tmp_path, capsys):
    results = copy_results(tmp_path, ["features.json"])
    assert benchmark_main(["report", "--results-dir", str(results)]) == 0
    assert (results / mr.PAGE).exists()
    out = capsys.readouterr().out
    assert "not measured yet: baselines.json" in out and str(results / mr.PAGE) in out
    assert benchmark_main(["metrics_report"]) == 2  # only under its public name
