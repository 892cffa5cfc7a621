"""Client for the ContextSMS API. Holds no Bot Framework types."""

from contextsms.client import PRODUCTION_BASE_URL, ClientOptions, ContextSMSClient
from contextsms.errors import (
    ApiError,
    BadRequest,
    ContextSMSError,
    DeadlineExceeded,
    DuplicateMapping,
    NotFound,
    PermissionDenied,
    RateLimited,
    ServerError,
    TransportError,
    Unauthorized,
    UnexpectedResponse,
)
from contextsms.retry import RetryPolicy

__all__ = [
    "PRODUCTION_BASE_URL",
    "ApiError",
    "BadRequest",
    "ClientOptions",
    "ContextSMSClient",
    "ContextSMSError",
    "DeadlineExceeded",
    "DuplicateMapping",
    "NotFound",
    "PermissionDenied",
    "RateLimited",
    "RetryPolicy",
    "ServerError",
    "TransportError",
    "Unauthorized",
    "UnexpectedResponse",
]
