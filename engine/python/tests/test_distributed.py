"""A LocalCluster of real worker processes (this Python running the engine's worker), the
default-client switch, and what cannot travel to workers."""

from __future__ import annotations

import pandas.testing as pdt
import pytest

import rask.dataframe as dd
from rask.distributed import Client, LocalCluster


def test_local_cluster_round_trip(sales_glob, sales_pandas):
    with LocalCluster(n_workers=2, threads_per_worker=1, memory_limit='512MB') as cluster:
        with Client(cluster) as client:
            info = client.scheduler_info()
            assert info['address'].startswith('df://127.0.0.1:')
            assert len(info['workers']) == 2
            assert all(w['nthreads'] == 1 and w['memory_limit'] == 512 << 20 for w in info['workers'].values())

            sales = dd.read_csv(sales_glob)
            got = sales.groupby('region')['price'].agg(['mean', 'count']).compute()
            expected = sales_pandas.groupby('region')['price'].agg(['mean', 'count'])
            pdt.assert_frame_equal(got, expected, check_dtype=False, check_index_type=False)
            assert sales.map_partitions(len).compute().sum() == 10

            with pytest.raises(NotImplementedError, match='not on a cluster'):
                sales.map_partitions(lambda part: part)
        # Closed: back to the local session, where Python functions run.
        assert dd.read_csv(sales_glob).map_partitions(lambda part: part.assign(one=1)).one.sum().compute() == 10
