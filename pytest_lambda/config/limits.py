"""Lambda's quotas, in one place: every check in the package reads its numbers from here."""

from __future__ import annotations

#: Memory (MB) a function may be configured with.
MEMORY_MIN_MB = 128
MEMORY_MAX_MB = 10_240
MEMORY_DEFAULT_MB = 128

#: Memory (MB) at which a function gets one full vCPU.
MEMORY_PER_VCPU_MB = 1_769

#: Function timeout (seconds).
TIMEOUT_MIN_S = 1
TIMEOUT_MAX_S = 900
TIMEOUT_DEFAULT_S = 3

#: The init phase's own limit (seconds) for on-demand functions.
INIT_TIMEOUT_S = 10
#: ... and for provisioned concurrency, whose init runs ahead of invocations.
PROVISIONED_INIT_TIMEOUT_S = 900

#: Ephemeral storage (/tmp) size (MB).
EPHEMERAL_STORAGE_MIN_MB = 512
EPHEMERAL_STORAGE_MAX_MB = 10_240
EPHEMERAL_STORAGE_DEFAULT_MB = 512

#: Synchronous invocation request payload (bytes).
SYNC_REQUEST_MAX_BYTES = 6 * 1024 * 1024
#: Asynchronous (`Event`) request payload through Invoke, and through the deprecated
#: InvokeAsync operation (bytes).
ASYNC_REQUEST_MAX_BYTES = 1024 * 1024
INVOKE_ASYNC_REQUEST_MAX_BYTES = 256 * 1024
#: The last part of an invocation's logs that `LogType=Tail` returns (bytes).
LOG_TAIL_MAX_BYTES = 4 * 1024

#: Asynchronous invocation: retries after a function error, and how long an event may wait in
#: the queue (seconds), as PutFunctionEventInvokeConfig takes them; Lambda's waits before the
#: first and the second retry, and its backoff for throttled events (seconds).
ASYNC_RETRY_ATTEMPTS_MAX = 2
ASYNC_EVENT_AGE_MIN_S = 60
ASYNC_EVENT_AGE_MAX_S = 21_600
ASYNC_RETRY_DELAYS_S = (60.0, 120.0)
ASYNC_THROTTLE_BACKOFF_MIN_S = 1.0
ASYNC_THROTTLE_BACKOFF_MAX_S = 300.0
#: A dead-letter message's ErrorMessage attribute (bytes).
DLQ_ERROR_MESSAGE_MAX_BYTES = 1024

#: Response payload the Runtime API accepts from a runtime (bytes): 6 MiB plus 100.
RESPONSE_MAX_BYTES = 6 * 1024 * 1024 + 100

#: The account's concurrency in a region (Lambda's default; the account_concurrency setting
#: changes it), and what reserved concurrency must leave unreserved (all of it in an account
#: of 100 or less).
ACCOUNT_CONCURRENCY = 1_000
UNRESERVED_CONCURRENCY_MIN = 100

#: Code storage for every function version and layer of an account in a region (75 GB), and
#: a deployment package uploaded directly (50 MB), as GetAccountSettings reports them.
ACCOUNT_CODE_STORAGE_BYTES = 75 * 1024 * 1024 * 1024
ZIPPED_CODE_MAX_BYTES = 50 * 1024 * 1024

#: ClientContext of an Invoke request, base64-encoded (bytes).
CLIENT_CONTEXT_MAX_BYTES = 3_583

#: Total size of a function's environment variables (bytes, keys plus values).
ENVIRONMENT_MAX_BYTES = 4 * 1024

#: Function name length.
FUNCTION_NAME_MAX_LEN = 64

#: Handler length (Lambda's pattern for it is `[^\s]+`).
HANDLER_MAX_LEN = 128

#: Layers per function, and the unzipped size of code plus layers (bytes).
LAYERS_MAX = 5
UNZIPPED_CODE_MAX_BYTES = 250 * 1024 * 1024

#: File descriptors, and processes plus threads, an execution environment may have open at once.
FILE_DESCRIPTORS_MAX = 1_024
PROCESSES_MAX = 1_024

#: Header block the Runtime API server reads before answering 431 (bytes): Go's default
#: `MaxHeaderBytes` (1 MiB) plus the 4,096 bytes of slack its server adds. awslambdaric sends an
#: error's X-Ray cause in a header of up to 1 MiB.
RUNTIME_API_MAX_HEADER_BYTES = 1024 * 1024 + 4096

#: Request body Lambda@Edge passes to a function when "include body" is on (bytes); a longer
#: body arrives truncated, with `inputTruncated: true`.
CLOUDFRONT_VIEWER_BODY_MAX_BYTES = 40 * 1024
CLOUDFRONT_ORIGIN_BODY_MAX_BYTES = 1024 * 1024

#: External extensions an execution environment runs (files in /opt/extensions).
EXTENSIONS_MAX = 10
#: The shutdown phase with extensions (ms): the runtime's share after SIGTERM (more when an
#: internal extension registered), then the rest of the whole phase for the extensions.
SHUTDOWN_MAX_MS = 2_000
SHUTDOWN_RUNTIME_MS = 300
SHUTDOWN_RUNTIME_INTERNAL_MS = 500
