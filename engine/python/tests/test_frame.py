"""The lazy DataFrame API against pandas, on data with NULLs (testdata/sales: 10 rows over
three files, NULL qty, price and region)."""

from __future__ import annotations

import glob

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest

import rask
import rask.dataframe as dd


@pytest.fixture
def sales(sales_glob):
    return dd.read_csv(sales_glob)


def frame_equal(left, right, **kwargs):
    left, right = (_nanoseconds(f.reset_index(drop=True)) for f in (left, right))
    pdt.assert_frame_equal(left, right, check_dtype=False, **kwargs)


def _nanoseconds(frame):
    """Timestamps in one unit: pandas picks the unit from the data (seconds for these)."""
    for column in frame.columns:
        if pd.api.types.is_datetime64_any_dtype(frame[column]):
            frame[column] = frame[column].astype('datetime64[ns]')
    return frame


def test_structure_without_computing(sales, sales_pandas):
    assert sales.columns.tolist() == sales_pandas.columns.tolist()
    assert sales.dtypes['price'] == np.float64
    assert pd.api.types.is_string_dtype(sales.dtypes['region'])
    assert len(sales) == 10
    text = repr(sales)
    assert 'npartitions=' in text and 'price' in text and 'float64' in text


def test_selection_and_masks(sales, sales_pandas):
    frame_equal(sales[['id', 'price']].compute(), sales_pandas[['id', 'price']])
    frame_equal(sales[sales.price > 1].compute(), sales_pandas[sales_pandas.price > 1])
    frame_equal(
        sales[(sales.price > 1) & (sales.region == 'north')].compute(),
        sales_pandas[(sales_pandas.price > 1) & (sales_pandas.region == 'north')],
    )
    frame_equal(sales[~sales.region.isin(['north', 'east'])].compute(), sales_pandas[~sales_pandas.region.isin(['north', 'east'])])
    pdt.assert_series_equal(sales.price.compute(), sales_pandas.price)
    pdt.assert_series_equal(sales['qty'].isna().compute(), sales_pandas['qty'].isna())


def test_arithmetic_follows_pandas(sales, sales_pandas):
    s, p = sales, sales_pandas
    cases = {
        'plus': (s.qty + s.price, p.qty + p.price),
        'times': (s.qty * 2, p.qty * 2),
        'true_div': (s.qty / 4, p.qty / 4),
        'floor_div': (s.id // 3, p.id // 3),
        'mod_negative': ((s.id - 5) % 3, (p.id - 5) % 3),
        'power': (s.price ** 2, p.price ** 2),
        'neg': (-s.price, -p.price),
        'radd': (10 - s.id, 10 - p.id),
    }
    for name, (lazy, expected) in cases.items():
        pdt.assert_series_equal(lazy.compute(), expected, check_dtype=False, check_names=False, obj=name)


def test_reductions_skip_nulls(sales, sales_pandas):
    for name in ['sum', 'mean', 'std', 'var', 'min', 'max', 'count']:
        got = getattr(sales.price, name)().compute()
        assert np.isclose(got, getattr(sales_pandas.price, name)()), name
    assert sales.region.nunique().compute() == sales_pandas.region.nunique()
    got = sales[['qty', 'price']].mean().compute()
    pdt.assert_series_equal(got, sales_pandas[['qty', 'price']].mean(), check_names=False)
    assert sales.qty.count().compute() == 8


def test_groupby_drops_null_keys_unless_asked(sales, sales_pandas):
    pdt.assert_series_equal(
        sales.groupby('region').price.mean().compute(),
        sales_pandas.groupby('region').price.mean(),
        check_index_type=False,
    )
    pdt.assert_series_equal(
        sales.groupby('region').size().compute(),
        sales_pandas.groupby('region').size(),
        check_index_type=False,
    )
    kept = sales.groupby('region', dropna=False).size().compute()
    assert kept.iloc[-1] == 1 and pd.isna(kept.index[-1])
    assert kept.sum() == 10


def test_groupby_aggregations_name_columns_as_pandas(sales, sales_pandas):
    got = sales.groupby('region').agg({'qty': ['sum', 'max'], 'price': 'mean'}).compute()
    expected = sales_pandas.groupby('region').agg({'qty': ['sum', 'max'], 'price': 'mean'})
    pdt.assert_frame_equal(got, expected, check_dtype=False, check_index_type=False)

    got = sales.groupby('product')[['qty', 'price']].agg(['mean', 'count']).compute()
    expected = sales_pandas.groupby('product')[['qty', 'price']].agg(['mean', 'count'])
    pdt.assert_frame_equal(got, expected, check_dtype=False, check_index_type=False)

    got = sales.groupby(['region', 'product']).qty.sum().compute()
    expected = sales_pandas.groupby(['region', 'product']).qty.sum()
    pdt.assert_series_equal(got, expected, check_dtype=False, check_index_type=False)


def test_cleaning(sales, sales_pandas):
    pdt.assert_frame_equal(sales[['qty', 'price']].isna().compute(), sales_pandas[['qty', 'price']].isna())
    frame_equal(sales.dropna().compute(), sales_pandas.dropna())
    frame_equal(sales.dropna(subset=['qty']).compute(), sales_pandas.dropna(subset=['qty']))
    filled = sales.fillna(0).compute()
    assert filled.qty.isna().sum() == 0 and filled.price.isna().sum() == 0
    assert filled.region.isna().sum() == 1, "text columns keep their NULLs when the value is a number"
    frame_equal(sales.fillna({'qty': 0}).compute(), sales_pandas.fillna({'qty': 0}))
    frame_equal(sales.drop(columns=['note']).compute(), sales_pandas.drop(columns=['note']))
    frame_equal(sales.rename(columns={'qty': 'quantity'}).compute(), sales_pandas.rename(columns={'qty': 'quantity'}))
    frame_equal(sales.astype({'id': 'f8'}).compute(), sales_pandas.astype({'id': 'f8'}))
    pdt.assert_series_equal(sales.price.clip(0.6, 2.0).compute(), sales_pandas.price.clip(0.6, 2.0))
    pdt.assert_series_equal(
        sales.price.where(sales.price > 1, 0.0).compute(), sales_pandas.price.where(sales_pandas.price > 1, 0.0)
    )
    assert sorted(sales.product.drop_duplicates().compute()) == ['apple', 'banana', 'cherry']


def test_sorting_and_top_rows(sales, sales_pandas):
    frame_equal(sales.sort_values(['price', 'id']).compute(), sales_pandas.sort_values(['price', 'id'], na_position='last'))
    frame_equal(sales.nlargest(3, 'price').compute(), sales_pandas.nlargest(3, 'price'))
    frame_equal(sales.nsmallest(2, 'qty').compute(), sales_pandas.nsmallest(2, 'qty'))
    counts = sales.product.value_counts().compute()
    pdt.assert_series_equal(counts.sort_index(), sales_pandas['product'].value_counts().sort_index(), check_index_type=False)


def test_describe_matches_pandas(sales, sales_pandas):
    got = sales[['qty', 'price']].describe().compute()
    expected = sales_pandas[['qty', 'price']].describe()
    exact = ['count', 'mean', 'std', 'min', 'max']
    pdt.assert_frame_equal(got.loc[exact], expected.loc[exact], check_names=False, rtol=1e-9)
    # Quartiles are approximate, as Dask's are: between the neighbouring values.
    for column in ['qty', 'price']:
        values = sorted(sales_pandas[column].dropna())
        for q in ['25%', '50%', '75%']:
            assert values[0] <= got.loc[q, column] <= values[-1]


def test_accessors(sales, sales_pandas):
    stamps = pd.to_datetime(sales_pandas.sold_at)
    for part in ['year', 'month', 'day', 'hour', 'minute', 'day_of_week']:
        got = getattr(sales.sold_at.dt, part).compute()
        pdt.assert_series_equal(got, getattr(stamps.dt, part), check_dtype=False, check_names=False, obj=part)
    for freq in ['D', '6h', '15min']:
        floored = sales.sold_at.dt.floor(freq).compute().astype('datetime64[ns]')
        pdt.assert_series_equal(floored, stamps.dt.floor(freq).astype('datetime64[ns]'), check_names=False, obj=freq)
    region = sales_pandas.region
    pdt.assert_series_equal(sales.region.str.upper().compute(), region.str.upper(), check_dtype=False)
    pdt.assert_series_equal(sales.region.str.len().compute(), region.str.len(), check_dtype=False)
    contains = sales.note.str.contains('o', regex=False).compute()
    assert contains.isna().sum() == 1, "a missing value stays missing"
    pdt.assert_series_equal(
        contains.fillna(False).astype(bool),
        sales_pandas.note.str.contains('o', regex=False).fillna(False).astype(bool),
    )
    starts = sales.region.str.startswith('no').compute()
    assert pd.isna(starts.iloc[5]), "a missing value stays missing"
    pdt.assert_series_equal(starts.fillna(False).astype(bool), region.str.startswith('no').fillna(False).astype(bool))


def test_merge_and_concat(sales, sales_pandas):
    products = dd.read_csv(_products())
    products_pandas = pd.read_csv(_products())
    for how in ['inner', 'left', 'right', 'outer']:
        got = sales.merge(products, on='product', how=how).compute()
        expected = sales_pandas.merge(products_pandas, on='product', how=how)
        key = ['id', 'product']
        frame_equal(
            got.sort_values(key, na_position='last').reset_index(drop=True)[expected.columns],
            expected.sort_values(key, na_position='last'),
            obj=how,
        )
    both = dd.concat([sales, sales]).compute()
    frame_equal(both, pd.concat([sales_pandas, sales_pandas]))


def _products():
    from conftest import TESTDATA

    return str(TESTDATA / 'products.csv')


def test_from_pandas_keeps_rows_and_partitions():
    pdf = pd.DataFrame({'a': range(10), 'b': [1.5, None] * 5, 'c': list('abcdefghij')})
    ddf = dd.from_pandas(pdf, npartitions=3)
    frame_equal(ddf.compute(), pdf)
    assert ddf.map_partitions(len).compute().tolist() == [4, 4, 2]
    series = dd.from_pandas(pdf['a'], npartitions=2)
    pdt.assert_series_equal(series.compute(), pdf['a'])
    frame_equal(dd.from_dict({'x': [1, 2, 3]}, npartitions=2).compute(), pd.DataFrame({'x': [1, 2, 3]}))


def test_partitions_are_counted_as_dask_counts_them(sales_glob, tmp_path):
    # testdata/sales: three files of 4, 3 and 3 rows; a partition per file, each a call.
    sales = dd.read_csv(sales_glob)
    assert sales.npartitions == 3
    assert sorted(sales.map_partitions(len).compute().tolist()) == [3, 3, 4]
    # Files holding quoted values are not cut below a partition each.
    assert dd.read_csv(sales_glob, blocksize=40).npartitions == 3
    assert dd.read_csv(sales_glob, blocksize=None).npartitions == 3

    sales.to_parquet(tmp_path / 'pq')
    assert dd.read_parquet(str(tmp_path / 'pq')).npartitions == len(list((tmp_path / 'pq').iterdir()))
    sales.to_json(str(tmp_path / 'part-*.json'))
    assert dd.read_json(str(tmp_path / 'part-*.json')).npartitions == 3

    # A partition per day, indexed with known divisions.
    week = rask.datasets.timeseries('2000-01-01', '2000-01-08', freq='1h')
    assert week.npartitions == 7 and week.known_divisions and len(week.divisions) == 8
    assert week.map_partitions(len).compute().tolist() == [24] * 7


def test_index_operations():
    pdf = pd.DataFrame({
        'timestamp': pd.date_range('2024-01-01', periods=96, freq='h'),
        'value': np.arange(96, dtype=float),
    })
    ddf = dd.from_pandas(pdf, npartitions=4).set_index('timestamp')
    indexed = pdf.set_index('timestamp')
    assert ddf.known_divisions
    assert ddf.divisions[0] == pdf.timestamp.min() and ddf.divisions[-1] == pdf.timestamp.max()
    pdt.assert_frame_equal(ddf.loc['2024-01-02':'2024-01-02'].compute(), indexed.loc['2024-01-02':'2024-01-02'], check_freq=False)
    pdt.assert_series_equal(
        ddf.resample('6h')['value'].sum().compute(), indexed.resample('6h')['value'].sum(), check_freq=False, check_index_type=False
    )
    pdt.assert_frame_equal(ddf.rolling(3).mean().compute(), indexed.rolling(3).mean(), check_freq=False)
    pdt.assert_frame_equal(ddf.persist().compute(), indexed, check_freq=False)


def test_map_partitions_infers_nullable_meta():
    pdf = pd.DataFrame({'x': [1.0, None, 3.0, None], 'y': [1, 2, 3, 4]})
    ddf = dd.from_pandas(pdf, npartitions=2)

    def double(part):
        return part.assign(z=part.x * 2)

    pdt.assert_frame_equal(ddf.map_partitions(double).compute(), double(pdf))
    # Each partition is a pandas frame of its own, indexed from 0.
    plus_one = ddf.map_partitions(lambda part: part.y + 1, meta=('y', 'i8')).compute()
    assert plus_one.index.tolist() == [0, 1, 0, 1]
    assert plus_one.tolist() == (pdf.y + 1).tolist()


def test_compute_shares_scans_and_returns_pandas(sales, sales_pandas):
    frame, mean, count = rask.compute(sales[sales.price > 1], sales.price.mean(), sales.qty.count())
    assert isinstance(frame, pd.DataFrame) and len(frame) == (sales_pandas.price > 1).sum()
    assert np.isclose(mean, sales_pandas.price.mean())
    assert count == 8
    rows, columns = sales[sales.price > 1].shape
    assert columns == sales_pandas.shape[1]
    assert rask.compute(rows)[0] == (sales_pandas.price > 1).sum()


def test_writes_read_back(sales, sales_pandas, tmp_path):
    sales.to_parquet(tmp_path / 'out', partition_on=['product'])
    back = dd.read_parquet(str(tmp_path / 'out')).compute()
    assert sorted(back['product']) == sorted(sales_pandas['product'])
    assert sorted(back['id']) == list(range(1, 11))
    sales.to_csv(str(tmp_path / 'part-*.csv'))
    csv_back = dd.read_csv(str(tmp_path / 'part-*.csv')).compute()
    assert sorted(csv_back['id']) == list(range(1, 11))
    # Compressed as the name says, one file per partition; pandas reads them on its own.
    sales.to_csv(str(tmp_path / 'gz-*.csv.gz'))
    parts = sorted(tmp_path.glob('gz-*.csv.gz'))
    assert len(parts) == sales.npartitions
    assert sorted(pd.concat(pd.read_csv(part, compression='gzip') for part in parts)['id']) == list(range(1, 11))
    assert sorted(dd.read_csv(str(tmp_path / 'gz-*.csv.gz')).compute()['id']) == list(range(1, 11))
    filtered = dd.read_parquet(str(tmp_path / 'out'), columns=['id'], filters=[('id', '>', 8)]).compute()
    assert sorted(filtered['id']) == [9, 10]


def test_sql_over_frames_and_files(sales, sales_pandas, sales_glob):
    by_region = rask.sql('SELECT region, sum(qty) AS qty FROM t WHERE region IS NOT NULL GROUP BY region ORDER BY region', t=sales)
    got = by_region.compute()
    expected = sales_pandas.groupby('region', as_index=False).qty.sum()
    frame_equal(got, expected)
    context = rask.Context()
    context.register('sales', sales_glob)
    assert context.sql('SELECT count(*) AS n FROM sales').compute()['n'][0] == 10
    assert len(rask.sql(f"SELECT * FROM '{sales_glob}'")) == 10


def test_read_csv_sniffs_and_unions_by_name(sales_glob):
    import pathlib

    testdata = pathlib.Path(sales_glob).parents[1]
    # `sep=None`: the `;` of the file is found, as pandas' own sniffing finds it.
    semicolon = str(testdata / "dialects" / "semicolon.csv")
    expected = pd.read_csv(semicolon, sep=None, engine="python")
    got = dd.read_csv(semicolon, sep=None).compute()
    frame_equal(got, expected)

    # Files whose columns differ: refused unless read by name, then the union of columns.
    drift = str(testdata / "drift" / "part_*.csv")
    with pytest.raises(Exception, match="union_by_name"):
        dd.read_csv(drift).compute()
    got = dd.read_csv(drift, union_by_name=True).compute().sort_values("id").reset_index(drop=True)
    expected = (
        pd.concat([pd.read_csv(f) for f in sorted(glob.glob(drift))], ignore_index=True)
        .sort_values("id")
        .reset_index(drop=True)
    )
    frame_equal(got[list(expected.columns)], expected)


def test_a_csv_read_again_follows_its_file(tmp_path):
    # The session keeps the files it decoded; a file rewritten since is read again, both by
    # a new frame and by one defined before the rewrite.
    path = tmp_path / "t.csv"
    before = pd.DataFrame({"k": ["a", "b", "a"], "v": [1, 2, 3]})
    before.to_csv(path, index=False)
    frame = dd.read_csv(str(path))
    expected = before.groupby("k").v.sum()
    for _ in range(2):
        pdt.assert_series_equal(frame.groupby("k").v.sum().compute(), expected)
    after = pd.DataFrame({"k": ["a", "b", "a"], "v": [7, 2, 9]})
    after.to_csv(path, index=False)
    assert path.stat().st_size == len("k,v\na,1\nb,2\na,3\n")
    expected = after.groupby("k").v.sum()
    pdt.assert_series_equal(dd.read_csv(str(path)).groupby("k").v.sum().compute(), expected)
    pdt.assert_series_equal(frame.groupby("k").v.sum().compute(), expected)
