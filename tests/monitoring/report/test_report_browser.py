"""The report as a person sees it: opened in headless Chromium, no console error, every image
loaded and not blank, a screenshot kept under the test's folder."""

from __future__ import annotations

import pytest

from churnops.monitoring.report.render import render_report
from tests.browser import Browser, chromium_missing
from tests.monitoring.report.test_plots import drift_rows
from tests.monitoring.report.test_report import inputs  # noqa: F401  (the fixture)

pytestmark = pytest.mark.skipif(
    chromium_missing() is not None, reason=chromium_missing() or "chromium available"
)


def test_report_opens_in_chromium_with_every_image_drawn(tmp_path, inputs):  # noqa: F811
    preds, ab, quality = inputs
    files = render_report(
        tmp_path / "report", drift_metrics=drift_rows(), predictions=preds, quality=quality,
        ab=ab, drift_threshold=0.2,
    )  # fmt: skip
    with Browser() as browser:
        browser.open(files.html)
        images = browser.images()
        shot = browser.screenshot(tmp_path / "report.png")
        errors = browser.console_errors()
        title = browser.evaluate("document.title")
    assert errors == []
    assert sorted(i["alt"] for i in images) == sorted(files.images)
    for image in images:
        assert image["complete"] and image["width"] > 100 and image["height"] > 100, image
        # A drawn chart: far more than a few pixels differ from the background.
        assert image["differing"] > 0.02 * image["pixels"], image
    assert title == "churnops monitoring report"
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 10_000


def test_a_broken_image_is_reported(tmp_path):
    page = tmp_path / "broken.html"
    page.write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>t</title></head><body>"
        '<img alt="gone" src="data:image/png;base64,AAAA">'
        "<script>console.error('boom')</script></body></html>"
    )
    with Browser() as browser:
        browser.open(page)
        (image,) = browser.images()
        errors = browser.console_errors()
    assert image["alt"] == "gone" and image["width"] == 0  # what the report test rules out
    assert "boom" in errors
