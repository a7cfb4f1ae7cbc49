"""EC2's Query protocol on the wire, driven by botocore's EC2 service model (the one the clients use).

A request is form parameters (`Action=…&Version=…`, lists as `Name.N`, structures as `Name.Member`, list
members as `Filter.1.Value.2`: botocore's EC2Serializer); `call_input` turns them back into the input shape
boto3 takes (`{"Filters": [{"Name": …, "Values": […]}]}`). An answer is that call's output shape as a dict
(boto3's names), written as EC2's XML: elements named by each member's locationName, lists as `<item>`s, in
the 2016-11-15 namespace with a requestId. A refusal is EC2's error document, HTTP 400.
"""
from __future__ import annotations

import datetime as _dt
import re
import uuid
from functools import lru_cache
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from ..codes import ErrorCode
from ..errors import UsageError

API_VERSION = "2016-11-15"
XMLNS = f"http://ec2.amazonaws.com/doc/{API_VERSION}/"


@lru_cache(maxsize=1)
def service_model():
    import botocore.session
    return botocore.session.get_session().get_service_model("ec2")


def operation(action: str):
    """botocore's model of `action`; None if EC2 has no such call."""
    model = service_model()
    return model.operation_model(action) if action in model.operation_names else None


def request_id() -> str:
    return str(uuid.uuid4())


# -- the request -------------------------------------------------------------------------------
def form_parameters(query: str, body: bytes) -> dict[str, str]:
    """The call's parameters: the query string's and a form body's (botocore POSTs a form)."""
    params = dict(parse_qsl(query, keep_blank_values=True))
    params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return params


def call_input(shape, params: dict[str, str]) -> dict:
    """The parameters as the call's input shape, boto3's names; a value of the wrong type → InvalidParameterValue."""
    return _structure(shape, params, "") if shape is not None else {}


def _serialized_name(shape, name: str) -> str:
    """botocore's EC2Serializer._get_serialized_name."""
    if "queryName" in shape.serialization:
        return shape.serialization["queryName"]
    if "name" in shape.serialization:
        wire = shape.serialization["name"]
        return wire[0].upper() + wire[1:]
    return name


def _structure(shape, params: dict[str, str], prefix: str) -> dict:
    out = {}
    for name, member in shape.members.items():
        key = f"{prefix}.{_serialized_name(member, name)}" if prefix else _serialized_name(member, name)
        value = _value(member, params, key)
        if value is not None:
            out[name] = value
    return out


def _value(shape, params: dict[str, str], key: str):
    kind = shape.type_name
    if kind == "structure":
        return _structure(shape, params, key) or None
    if kind == "list":
        items = []
        while True:                          # botocore numbers list members 1, 2, 3 … with no gap
            element = f"{key}.{len(items) + 1}"
            if element not in params and not any(k.startswith(element + ".") for k in params):
                break
            items.append(_value(shape.member, params, element))
        return items or None
    if kind == "map" or key not in params:
        return None
    raw = params[key]
    if kind == "boolean":
        if raw.lower() not in ("true", "false"):
            raise UsageError(f"{key}: {raw!r} is not true or false", ErrorCode.INVALID_PARAMETER_VALUE)
        return raw.lower() == "true"
    if kind in ("integer", "long"):
        try:
            return int(raw)
        except ValueError:
            raise UsageError(f"{key}: {raw!r} is not an integer", ErrorCode.INVALID_PARAMETER_VALUE) from None
    return raw


# -- the answer --------------------------------------------------------------------------------
def answer_xml(action: str, shape, result: dict, request: str) -> bytes:
    body = _members(shape, result) if shape is not None else ""
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<{action}Response xmlns="{XMLNS}">'
            f"<requestId>{request}</requestId>{body}</{action}Response>").encode()


def _members(shape, value: dict) -> str:
    parts = []
    for name, member in shape.members.items():
        if name in value and value[name] is not None:
            tag = member.serialization.get("name", name)
            parts.append(f"<{tag}>{_xml(member, value[name])}</{tag}>")
    return "".join(parts)


def _xml(shape, value) -> str:
    kind = shape.type_name
    if kind == "structure":
        return _members(shape, value)
    if kind == "list":
        tag = shape.member.serialization.get("name", "item")
        return "".join(f"<{tag}>{_xml(shape.member, v)}</{tag}>" for v in value)
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "timestamp" and isinstance(value, _dt.datetime):
        return value.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return escape(str(value))


def error_xml(code: str, message: str, request: str) -> bytes:
    """EC2's error document (botocore's EC2 parser reads Errors/Error/Code and Message)."""
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>{escape(code)}</Code>'
            f"<Message>{escape(message)}</Message></Error></Errors><RequestID>{request}</RequestID>"
            "</Response>").encode()


# -- who signed it -----------------------------------------------------------------------------
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/(\d{8})/([^/,\s]+)/([^/,\s]+)/aws4_request")


def signer(authorization: str | None, query: dict[str, str]) -> dict | None:
    """The SigV4 credential scope of a request (header or presigned query): access key, date, region,
    service; None if it is not signed with SigV4."""
    text = authorization or ""
    if not text.startswith("AWS4-HMAC-SHA256") and "X-Amz-Credential" in query:
        text = "Credential=" + query["X-Amz-Credential"]
    found = _CREDENTIAL.search(text)
    if found is None:
        return None
    key, date, region, service = found.groups()
    return {"access_key": key, "date": date, "region": region, "service": service}
