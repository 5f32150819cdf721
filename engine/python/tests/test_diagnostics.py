"""The console progress bar, the HTML performance report and the live dashboard."""

from __future__ import annotations

import io
import json
import urllib.request

import rask
import rask.dataframe as dd
from rask.diagnostics import ProgressBar, performance_report


def test_progress_bar_reaches_completion(sales_glob):
    out = io.StringIO()
    with ProgressBar(out=out):
        assert len(dd.read_csv(sales_glob).compute()) == 10
    text = out.getvalue()
    assert '100% Completed' in text and text.endswith('\n')


def test_performance_report_covers_the_block(sales_glob, tmp_path):
    report = tmp_path / 'report.html'
    with performance_report(filename=str(report)):
        sales = dd.read_csv(sales_glob)
        sales.groupby('region').price.mean().compute()
        sales.qty.sum().compute()
    page = report.read_text()
    assert page.startswith('<!DOCTYPE html>') and 'Rask performance report: 2 queries' in page
    assert page.count('<section id="graph">') == 2


def test_dashboard_serves_the_session(sales_glob):
    url = rask.dashboard()
    assert url.startswith('http://127.0.0.1:')
    dd.read_csv(sales_glob).price.max().compute()
    with urllib.request.urlopen(url, timeout=10) as page:
        assert 'Rask' in page.read().decode()
    with urllib.request.urlopen(url.rstrip('/') + '/status', timeout=10) as status:
        queries = json.loads(status.read())['queries']
    assert any(q['state'] == 'finished' for q in queries)
