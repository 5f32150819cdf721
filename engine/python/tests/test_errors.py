"""Errors as Python exceptions of the classes pandas users catch, with the CLI's one-line
messages; Ctrl-C cancels a running computation and the session stays usable."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

import rask
import rask.dataframe as dd
from rask.errors import RaskError


def test_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError) as raised:
        dd.read_csv(str(tmp_path / 'nothing.csv'))
    assert isinstance(raised.value, RaskError)
    assert 'nothing.csv' in str(raised.value)
    with pytest.raises(FileNotFoundError, match='no files match'):
        dd.read_csv(str(tmp_path / 'data_*.csv'))


def test_missing_column_is_a_key_error(sales_glob):
    sales = dd.read_csv(sales_glob)
    with pytest.raises(KeyError) as raised:
        sales['nope']
    assert 'nope' in str(raised.value) and isinstance(raised.value, RaskError)
    with pytest.raises(KeyError):
        sales.groupby('region')['nope'].mean()


def test_bad_sql_and_bad_values(sales_glob):
    with pytest.raises(ValueError, match='syntax error'):
        rask.sql('SELEC 1')
    with pytest.raises(TypeError, match='not numeric'):
        rask.sql(f"SELECT avg(region) FROM '{sales_glob}'")
    with pytest.raises(ValueError):
        dd.read_csv(sales_glob).groupby('region').agg('median_of_something')


def test_malformed_csv_names_file_and_line():
    from conftest import TESTDATA

    with pytest.raises(RaskError) as raised:
        dd.read_csv(str(TESTDATA / 'bad' / 'bad_value.csv')).compute()
    assert 'bad_value.csv:10052' in str(raised.value)
    assert '\n' not in str(raised.value)


def test_a_python_exception_in_a_partition_function_names_it():
    ddf = dd.from_pandas(__import__('pandas').DataFrame({'x': [1, 2, 3]}), npartitions=2)

    def fails(part):
        if len(part) and part.x.iloc[0] > 1:
            raise ZeroDivisionError('bad partition')
        return part

    with pytest.raises(RaskError, match='ZeroDivisionError: bad partition'):
        ddf.map_partitions(fails, meta=ddf._meta).compute()


def test_keyboard_interrupt_cancels_and_the_session_carries_on():
    big = rask.datasets.timeseries(start='2000-01-01', end='2001-01-01', freq='10ms')
    slow = big.groupby('id').x.std()
    timer = threading.Timer(1.0, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        slow.compute()
    assert time.monotonic() - started < 30, 'the interrupt stopped the computation'
    timer.cancel()
    small = dd.from_pandas(__import__('pandas').DataFrame({'x': [1, 2, 3]}), npartitions=1)
    assert small.x.sum().compute() == 6
    # Nothing goes on computing behind the session's back: the 366 daily partitions stop.
    time.sleep(0.5)
    cpu = time.process_time()
    time.sleep(2)
    assert time.process_time() - cpu < 1, 'the cancelled query still runs'
