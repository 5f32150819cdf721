"""The DataFrame code of the tutorials Rask follows (../shared/tutorials), with
``import dask.dataframe as dd`` replaced by ``import rask.dataframe as dd`` (and ``dask.compute``
/ ``dask.datasets`` by ``rask``'s), checked against the same computation in plain pandas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandas.testing as pdt

import rask
import rask.dataframe as dd


def test_reading_the_csv_parts(in_tutorial_dir, tutorial_pandas):
    ddf = dd.read_csv('data_part_*.csv', parse_dates=['timestamp'])

    assert ddf.npartitions == 5  # one per file, as Dask reads them
    sizes = [p.stat().st_size for p in in_tutorial_dir.glob('data_part_*.csv')]
    in_blocks = dd.read_csv('data_part_*.csv', blocksize=200_000)
    assert in_blocks.npartitions == sum(-(-size // 200_000) for size in sizes) > 5
    assert in_blocks.map_partitions(len).compute().sum() == len(tutorial_pandas)
    assert ddf.columns.tolist() == ['id', 'value', 'category', 'timestamp']
    assert len(ddf) == len(tutorial_pandas)
    assert ddf.dtypes['id'] == np.int64 and ddf.dtypes['value'] == np.float64
    assert pd.api.types.is_datetime64_any_dtype(ddf.dtypes['timestamp'])
    head = ddf.head()
    pdt.assert_frame_equal(head, tutorial_pandas.head(), check_dtype=False)


def test_dataframe_operations(in_tutorial_dir, tutorial_pandas):
    ddf = dd.read_csv('data_part_*.csv', parse_dates=['timestamp'])
    pdf = tutorial_pandas

    category_stats = ddf.groupby('category')['value'].agg(['mean', 'std', 'count'])
    result = category_stats.compute()
    expected = pdf.groupby('category')['value'].agg(['mean', 'std', 'count'])
    pdt.assert_frame_equal(result, expected, check_dtype=False, check_index_type=False)

    filtered = ddf[ddf['value'] > 0]
    filtered['value_squared'] = filtered['value'] ** 2
    pfiltered = pdf[pdf['value'] > 0].copy()
    pfiltered['value_squared'] = pfiltered['value'] ** 2
    pdt.assert_frame_equal(
        filtered.compute().reset_index(drop=True),
        pfiltered.reset_index(drop=True),
        check_dtype=False,
    )

    daily_stats = ddf.set_index('timestamp').resample('D')['value'].mean()
    expected_daily = pdf.set_index('timestamp').resample('D')['value'].mean()
    pdt.assert_series_equal(daily_stats.head(), expected_daily.head(), check_freq=False, check_index_type=False)
    pdt.assert_series_equal(daily_stats.compute(), expected_daily, check_freq=False, check_index_type=False)

    mean_val, std_val, filtered_count = rask.compute(
        ddf['value'].mean(),
        ddf['value'].std(),
        len(filtered)
    )
    assert np.isclose(mean_val, pdf['value'].mean())
    assert np.isclose(std_val, pdf['value'].std())
    assert filtered_count == (pdf['value'] > 0).sum()


def test_partition_optimization(in_tutorial_dir, tutorial_pandas):
    ddf = dd.read_csv('data_part_*.csv', parse_dates=['timestamp'])

    ddf_optimized = ddf.repartition(npartitions=20)
    assert ddf_optimized.npartitions == 20
    assert len(ddf_optimized) == len(tutorial_pandas)

    by_category = ddf.set_index('category', sorted=False)
    assert by_category.known_divisions
    divisions = by_category.divisions
    assert list(divisions) == sorted(divisions)
    assert by_category.compute().index.tolist() == sorted(tutorial_pandas['category'])

    partition_sizes = ddf.map_partitions(len).compute()
    assert partition_sizes.sum() == len(tutorial_pandas)
    assert all(size > 0 for size in partition_sizes.tolist())


def test_map_partitions_and_apply():
    pdf = pd.DataFrame({
        'A': np.random.default_rng(1).standard_normal(10000),
        'B': np.random.default_rng(2).standard_normal(10000),
        'C': np.random.default_rng(3).choice(['X', 'Y', 'Z'], 10000)
    })
    ddf = dd.from_pandas(pdf, npartitions=4)

    def custom_processing(partition):
        partition['A_squared'] = partition['A'] ** 2
        partition['B_log'] = np.log1p(np.abs(partition['B']))
        return partition

    ddf_processed = ddf.map_partitions(custom_processing)
    pdt.assert_frame_equal(ddf_processed.compute(), custom_processing(pdf.copy()))

    def row_function(row):
        return row['A'] * row['B']

    ddf['A_times_B'] = ddf.apply(row_function, axis=1, meta=('A_times_B', 'f8'))
    expected = pdf.assign(A_times_B=pdf['A'] * pdf['B'])
    pdt.assert_frame_equal(ddf.head(), expected.head())
    pdt.assert_frame_equal(ddf.compute(), expected)

    def custom_agg(partition):
        return pd.Series({
            'mean': partition['A'].mean(),
            'std': partition['A'].std(),
            'min': partition['A'].min(),
            'max': partition['A'].max()
        })

    stats = ddf.map_partitions(custom_agg).compute()
    assert stats.index.tolist() == ['mean', 'std', 'min', 'max'] * (len(stats) // 4)
    assert np.isclose(stats.loc['min'].min(), pdf['A'].min())
    assert np.isclose(stats.loc['max'].max(), pdf['A'].max())


def test_performance_report_workload(in_tutorial_dir, tutorial_pandas):
    ddf = dd.read_csv('data_part_*.csv')
    result1 = ddf.groupby('category')['value'].mean().compute()
    pdt.assert_series_equal(result1, tutorial_pandas.groupby('category')['value'].mean(), check_index_type=False)


def test_distributed_threshold(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = {
        'id': range(100_000),
        'category': [f'cat_{i % 100}' for i in range(100_000)],
        'value': [float(i % 1000) for i in range(100_000)]
    }
    pd.DataFrame(data).to_csv("large_data.csv", index=False)

    ddf = dd.read_csv("large_data.csv")
    assert ddf.head().equals(pd.DataFrame(data).head())
    mean_by_category = ddf.groupby('category')['value'].mean()
    filtered_categories = mean_by_category[mean_by_category > 500]
    result = filtered_categories.compute()

    pandas_means = pd.DataFrame(data).groupby('category')['value'].mean()
    pdt.assert_series_equal(result, pandas_means[pandas_means > 500], check_index_type=False)


def test_timeseries_blog_post():
    df = rask.datasets.timeseries()
    assert df.columns.tolist() == ['id', 'name', 'x', 'y']
    assert df.npartitions == 30 and df.known_divisions
    assert df.divisions[0] == pd.Timestamp('2000-01-01') and df.divisions[1] == pd.Timestamp('2000-01-02')
    assert df.map_partitions(len).compute().tolist() == [86400] * 30  # one call per day

    some_groupby_agg_operation = df.groupby('name').agg({'x': 'max', 'y': 'mean'})
    some_groupby_agg_computed = some_groupby_agg_operation.compute()
    whole = df.compute()
    expected = whole.groupby('name').agg({'x': 'max', 'y': 'mean'})
    pdt.assert_frame_equal(some_groupby_agg_computed, expected, check_index_type=False)

    df['x2'] = df['x'].apply(lambda val: val**2)
    applied_computation = df.compute()
    pdt.assert_series_equal(applied_computation['x2'], (whole['x'] ** 2).rename('x2'))

    def my_multi_function(df):
        df = df.assign(
            big_string=df['id'].astype(str) + "-" + df['name'],
            new_value=df['x'] + df['y']
        )
        return df

    multi_df = df.map_partitions(my_multi_function)
    assert multi_df.columns.tolist() == ['id', 'name', 'x', 'y', 'x2', 'big_string', 'new_value']
    multi_df_computed = multi_df.compute()
    pdt.assert_frame_equal(multi_df_computed, my_multi_function(applied_computation), check_dtype=False)
