"""Request bodies other than uploads are small JSON documents: a larger one is refused as it arrives.

Without a bound, FastAPI reads a JSON body whole into memory and parses it before any validation, so
one request could make the gateway hold gigabytes. Multipart uploads pass untouched (they stream to
S3 under their own limit). The refusal is an ``HTTPException(413)`` raised while the body is read, so
it leaves through the usual error handler as ``{"error": {"code": "payload_too_large", ...}}``;
Starlette's own body limit answers in plain text, which is why it is not used.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_JSON_BODY = 1024 * 1024
# A refused body is still read (and dropped) up to this much, so the client gets to read the answer.
DRAIN_BYTES = 64 * 1024 * 1024
# No route reads a body on these (the hot GET path skips the wrapper entirely).
_NO_BODY = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})


class JsonBodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int = MAX_JSON_BODY) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in _NO_BODY:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if headers.get("content-type", "").lower().startswith("multipart/"):
            await self.app(scope, receive, send)
            return
        declared = headers.get("content-length", "")
        too_big = declared.isdigit() and int(declared) > self.max_bytes
        received = 0
        max_bytes = self.max_bytes

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] != "http.request":
                return message
            received += len(message.get("body", b""))
            if too_big or received > max_bytes:
                more = message.get("more_body", False)
                while more and received <= DRAIN_BYTES:
                    message = await receive()
                    received += len(message.get("body", b""))
                    more = message["type"] == "http.request" and message.get("more_body", False)
                raise HTTPException(413, f"The request body is larger than {max_bytes} bytes.")
            return message

        await self.app(scope, limited, send)
