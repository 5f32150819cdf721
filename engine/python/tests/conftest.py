"""Fixtures: the checked-in test data and the tutorials' CSV files, made smaller."""

from __future__ import annotations

import glob
import os
import pathlib

import numpy as np
import pandas as pd
import pytest

TESTDATA = pathlib.Path(os.environ.get("RASK_TESTDATA", pathlib.Path(__file__).resolve().parents[3] / "testdata"))

#: Rows per tutorial file (the tutorial writes 1,000,000; the answers do not depend on it).
TUTORIAL_ROWS = 20_000


@pytest.fixture(scope="session")
def sales_glob() -> str:
    return str(TESTDATA / "sales" / "part_*.csv")


@pytest.fixture(scope="session")
def sales_pandas(sales_glob: str) -> pd.DataFrame:
    """The same rows read by pandas, one file after another. Rask reads timestamps as
    timestamps where pandas needs ``parse_dates``."""
    files = sorted(glob.glob(sales_glob))
    return pd.concat([pd.read_csv(p, parse_dates=['sold_at']) for p in files], ignore_index=True)


@pytest.fixture(scope="session")
def tutorial_dir(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """The tutorial's ``data_part_*.csv`` files, written by its own code (smaller)."""
    folder = tmp_path_factory.mktemp("tutorial")
    rng = np.random.default_rng(7)
    for i in range(5):
        df = pd.DataFrame({
            'id': range(i * TUTORIAL_ROWS, (i + 1) * TUTORIAL_ROWS),
            'value': rng.standard_normal(TUTORIAL_ROWS),
            'category': rng.choice(['A', 'B', 'C', 'D'], TUTORIAL_ROWS),
            'timestamp': pd.date_range('2024-01-01', periods=TUTORIAL_ROWS, freq='s') + pd.Timedelta(days=i),
        })
        df.to_csv(folder / f'data_part_{i}.csv', index=False)
    return folder


@pytest.fixture
def in_tutorial_dir(tutorial_dir: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    monkeypatch.chdir(tutorial_dir)
    return tutorial_dir


@pytest.fixture(scope="session")
def tutorial_pandas(tutorial_dir: pathlib.Path) -> pd.DataFrame:
    """The tutorial's files read by pandas: the reference answers."""
    files = sorted(tutorial_dir.glob("data_part_*.csv"))
    return pd.concat([pd.read_csv(f, parse_dates=['timestamp']) for f in files], ignore_index=True)
