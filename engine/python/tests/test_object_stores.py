"""Dask code reading from and writing to S3, unchanged: ``storage_options`` as Dask users
write them for s3fs (``key``, ``secret``, ``client_kwargs={'endpoint_url': ...}``), against
moto's S3 server on 127.0.0.1 (from the tests' virtualenv; under CI it must be there)."""

from __future__ import annotations

import os
import pathlib

import pandas as pd
import pandas.testing as pdt
import pytest

import rask.dataframe as dd

BUCKET = "tutorial"


@pytest.fixture(scope="module")
def s3(tutorial_dir: pathlib.Path):
    """The endpoint of a moto server holding the tutorial's files in BUCKET."""
    try:
        import boto3
        from moto.server import ThreadedMotoServer
    except ImportError as missing:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"moto is not installed: {missing}")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="dask", aws_secret_access_key="user")
    client.create_bucket(Bucket=BUCKET)
    for path in sorted(tutorial_dir.glob("data_part_*.csv")):
        client.upload_file(str(path), BUCKET, path.name)
    yield endpoint
    server.stop()


def s3fs_options(endpoint: str) -> dict:
    return {"key": "dask", "secret": "user", "client_kwargs": {"endpoint_url": endpoint, "region_name": "us-east-1"}}


def category_stats(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.groupby("category")["value"].agg(["mean", "std", "count"])


def test_read_csv_with_s3fs_storage_options(s3: str, tutorial_pandas: pd.DataFrame) -> None:
    df = dd.read_csv(f"s3://{BUCKET}/data_part_*.csv", storage_options=s3fs_options(s3))
    got = df.groupby("category")["value"].agg(["mean", "std", "count"]).compute()
    pdt.assert_frame_equal(got.sort_index(), category_stats(tutorial_pandas), check_dtype=False)


def test_to_parquet_on_s3_reads_back(s3: str, tutorial_pandas: pd.DataFrame) -> None:
    # A write to a bucket nothing was read from: the options come with the write.
    local = dd.from_pandas(tutorial_pandas, npartitions=3)
    out = f"s3://{BUCKET}/exercise/"
    local[local.value > 0].to_parquet(out, partition_on=["category"], storage_options=s3fs_options(s3))
    back = dd.read_parquet(out, storage_options=s3fs_options(s3)).compute()
    positive = tutorial_pandas[tutorial_pandas.value > 0]
    assert len(back) == len(positive)
    got = back.groupby(back["category"].astype(str))["value"].agg(["mean", "std", "count"])
    pdt.assert_frame_equal(got.sort_index(), category_stats(positive), check_dtype=False, check_names=False)


def test_storage_options_a_store_does_not_take_are_refused(s3: str) -> None:
    options = dict(s3fs_options(s3), config_kwargs="x")
    with pytest.raises(Exception, match="unknown storage option 'config_kwargs'"):
        dd.read_csv(f"s3://{BUCKET}/data_part_*.csv", storage_options=options)
    with pytest.raises(Exception, match="storage options are for object stores"):
        dd.from_pandas(pd.DataFrame({"a": [1]}), npartitions=1).to_csv("local.csv", storage_options={"anon": True})
