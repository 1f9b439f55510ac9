"""Every X-Prism-* header name, defined once for both tiers."""

from typing import Final

# Request headers a client may send.
MODE: Final = "X-Prism-Mode"
MODEL_PREFER: Final = "X-Prism-Model-Prefer"
TAGS: Final = "X-Prism-Tags"
SESSION: Final = "X-Prism-Session"
CACHE: Final = "X-Prism-Cache"
CACHE_TTL: Final = "X-Prism-Cache-TTL"
CACHE_THRESHOLD: Final = "X-Prism-Cache-Threshold"
CACHE_VERSION: Final = "X-Prism-Cache-Version"
AUTO_CACHE: Final = "X-Prism-Auto-Cache"
FALLBACK: Final = "X-Prism-Fallback"
HEDGE: Final = "X-Prism-Hedge"
MEMORY: Final = "X-Prism-Memory"

# Response headers: the per-request receipt.
REQUEST_ID: Final = "X-Prism-Request-Id"
# The same id under OpenAI's name: the SDK reads it into completion._request_id and an
# APIError's request_id, the id its users log and quote.
OPENAI_REQUEST_ID: Final = "x-request-id"
MODEL: Final = "X-Prism-Model"
PROVIDER: Final = "X-Prism-Provider"
TASK_TYPE: Final = "X-Prism-Task-Type"
TASK_CONFIDENCE: Final = "X-Prism-Task-Confidence"
ROUTE_REASON: Final = "X-Prism-Route-Reason"
COST_CENTS: Final = "X-Prism-Cost-Cents"
NATIVE_CACHE_SAVED_CENTS: Final = "X-Prism-Native-Cache-Saved-Cents"
CACHE_STATUS: Final = "X-Prism-Cache-Status"
CACHE_SAVED_CENTS: Final = "X-Prism-Cache-Saved-Cents"
CACHE_SIMILARITY: Final = "X-Prism-Cache-Similarity"
FEEDBACK_ID: Final = "X-Prism-Feedback-Id"
USAGE_REPORTED: Final = "X-Prism-Usage-Reported"
BUDGET_REMAINING_CENTS: Final = "X-Prism-Budget-Remaining-Cents"
BUDGET_WARNING: Final = "X-Prism-Budget-Warning"
# Response: "fired:<model>" when a hedge started a second attempt; FUSION lists the panel.
HEDGED: Final = "X-Prism-Hedge"
FUSION: Final = "X-Prism-Fusion"

RESPONSE_HEADERS: Final = (
    REQUEST_ID,
    MODEL,
    PROVIDER,
    TASK_TYPE,
    TASK_CONFIDENCE,
    ROUTE_REASON,
    COST_CENTS,
    NATIVE_CACHE_SAVED_CENTS,
    CACHE_STATUS,
    CACHE_SAVED_CENTS,
    CACHE_SIMILARITY,
    FEEDBACK_ID,
    USAGE_REPORTED,
    BUDGET_REMAINING_CENTS,
    BUDGET_WARNING,
    HEDGED,
    FUSION,
)
