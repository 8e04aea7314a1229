"""EKS bearer tokens, as ``aws eks get-token`` makes them.

A token is ``k8s-aws-v1.`` + base64url(a presigned STS GetCallerIdentity URL
signed with the header ``x-k8s-aws-id: <cluster>``), valid 15 minutes; the
cluster's authenticator replays the URL to STS to learn who the caller is.
"""

from __future__ import annotations

import base64
import datetime
from typing import Any

from botocore.signers import RequestSigner

from .target import Target

PREFIX = "k8s-aws-v1."
EXPIRES = 60  # seconds the presigned URL itself is valid for signing-time checks (as aws-cli)
TOKEN_LIFETIME = datetime.timedelta(minutes=14)


def get_token(target: Target, cluster: str, region: str) -> dict[str, Any]:
    session = target.session(region)
    sts = session.client("sts", region_name=region)
    signer = RequestSigner(sts.meta.service_model.service_id, region, "sts", "v4",
                           session.get_credentials(), sts.meta.events)
    params = {"method": "GET", "url": f"{sts.meta.endpoint_url.rstrip('/')}/?Action=GetCallerIdentity&Version=2011-06-15",
              "body": {}, "headers": {"x-k8s-aws-id": cluster}, "context": {}}
    url = signer.generate_presigned_url(params, region_name=region, expires_in=EXPIRES, operation_name="")
    token = PREFIX + base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")
    expiry = datetime.datetime.now(datetime.timezone.utc) + TOKEN_LIFETIME
    return {"kind": "ExecCredential", "apiVersion": "client.authentication.k8s.io/v1beta1", "spec": {},
            "status": {"expirationTimestamp": expiry.strftime("%Y-%m-%dT%H:%M:%SZ"), "token": token}}
