"""An S3-compatible server (moto) on 127.0.0.1 for the remote-storage tests.

It checks signatures: only the access key it creates for user `rask` is let in, and that
user may use every bucket but `private`. The files under the fixture folder
given as the first argument are uploaded to `data/testdata/...`, with more keys for the
glob tests. One JSON line on stdout tells the endpoint and the keys; the server stops when
its stdin closes (the test process ended).
"""

import json
import os
import pathlib
import sys

# Requests are signed-checked after the setup below (user, key, policy, two buckets).
os.environ["INITIAL_NO_AUTH_ACTION_COUNT"] = "5"
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

import boto3  # noqa: E402
from moto.server import ThreadedMotoServer  # noqa: E402

POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
        {
            "Effect": "Deny",
            "Action": "s3:*",
            "Resource": ["arn:aws:s3:::private", "arn:aws:s3:::private/*"],
        },
    ],
}


def main() -> None:
    fixtures = pathlib.Path(sys.argv[1])
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"

    anonymous = {"aws_access_key_id": "setup", "aws_secret_access_key": "setup"}
    iam = boto3.client("iam", endpoint_url=endpoint, **anonymous)
    iam.create_user(UserName="rask")
    key = iam.create_access_key(UserName="rask")["AccessKey"]
    iam.put_user_policy(
        UserName="rask", PolicyName="data", PolicyDocument=json.dumps(POLICY)
    )
    s3 = boto3.client("s3", endpoint_url=endpoint, **anonymous)
    s3.create_bucket(Bucket="data")
    s3.create_bucket(Bucket="private")

    signed = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
    )
    for path in sorted(fixtures.rglob("*")):
        if path.is_file():
            relative = path.relative_to(fixtures).as_posix()
            signed.upload_file(str(path), "data", f"testdata/{relative}")
    # Many keys for the glob tests, and strays that must not match.
    for i in range(60):
        signed.put_object(
            Bucket="data", Key=f"many/part_{i:02}.csv", Body=f"n\n{i}\n".encode()
        )
    signed.put_object(Bucket="data", Key="many/part_99.txt", Body=b"n\n1000\n")
    signed.put_object(Bucket="data", Key="many/deeper/part_50.csv", Body=b"n\n1000\n")
    signed.put_object(Bucket="data", Key="many/_SUCCESS", Body=b"")

    print(
        json.dumps(
            {
                "endpoint": endpoint,
                "access_key_id": key["AccessKeyId"],
                "secret_access_key": key["SecretAccessKey"],
            }
        ),
        flush=True,
    )
    sys.stdin.read()
    server.stop()


if __name__ == "__main__":
    main()
