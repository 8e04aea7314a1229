"""Accept-header negotiation: JSON, server-side Table, or PartialObjectMetadata (API-05).

kubectl asks for ``application/json;as=Table;v=v1;g=meta.k8s.io`` first; any
JSON the client accepts is served as JSON. Protobuf is never produced: a client
that accepts only protobuf gets 406, one that also accepts JSON gets JSON.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ApiError


@dataclass(frozen=True)
class Negotiated:
    table: bool = False
    partial: bool = False
    include_object: str = "Metadata"


class NotAcceptable(ApiError):
    def __init__(self, accept: str) -> None:
        super().__init__(f"only the following media types are accepted: application/json, application/yaml, "
                         f"application/vnd.kubernetes.protobuf", 406, "NotAcceptable")


def negotiate(accept: str) -> Negotiated:
    if not accept:
        return Negotiated()
    any_json = False
    for raw in accept.split(","):
        parts = [p.strip() for p in raw.split(";")]
        media = parts[0].lower()
        params = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
        if media in ("application/json", "*/*", "application/*", "application/yaml"):
            as_ = params.get("as")
            g = params.get("g")
            if as_ == "Table" and g == "meta.k8s.io" and params.get("v") in ("v1", "v1beta1"):
                return Negotiated(table=True)
            if as_ in ("PartialObjectMetadata", "PartialObjectMetadataList") and g == "meta.k8s.io":
                return Negotiated(partial=True)
            if as_ is None:
                any_json = True
                break
    if not any_json:
        raise NotAcceptable(accept)
    return Negotiated()
