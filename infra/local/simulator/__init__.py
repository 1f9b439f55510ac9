"""Provider simulator: a real HTTP server that answers like OpenAI, Anthropic and Gemini.

The gateway's tests and benchmarks point their upstream base URLs here. Everything it
does is deterministic, so a test elsewhere can compute the exact values it will see.

Addressing (``{sim}`` is the server's root URL, ``<provider>`` any name):
  * OpenAI wire format: ``POST {sim}/p/<provider>/.../chat/completions`` (base URL
    ``{sim}/p/<provider>/v1``) and ``GET {sim}/p/<provider>/v1/models``. Auth:
    ``Authorization: Bearer <non-empty>``.
  * Anthropic Messages: ``POST {sim}/p/anthropic/v1/messages``. Auth: ``x-api-key`` or
    ``Authorization: Bearer`` (current official SDKs send the key that way);
    ``anthropic-version`` is required as upstream (400 without it).
  * Gemini: ``POST {sim}/p/gemini/v1beta/models/<model>:generateContent`` and
    ``:streamGenerateContent?alt=sse`` (without ``alt=sse``: one streamed JSON array).
    Auth: ``x-goog-api-key`` header or ``?key=``.
  The wire format is chosen by the path suffix, not the provider name, so an OpenAI
  compatible endpoint under ``/p/anthropic`` or ``/p/gemini`` works too.
  Missing credentials give the format's own 401 error; a model name starting with
  ``nonexistent`` gives its 404 model-not-found error; bad JSON or missing required
  fields give its 400 error.

Token counting (``tokens.py``):
  * ``tokens(text) = ceil(len(text) / 4)`` (so 0 for "", at least 1 otherwise).
  * ``json_text(obj) = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)``.
  * A message's parts: text parts; assistant tool calls count ``json_text(arguments)``
    (OpenAI: the arguments string itself); tool results count their text (Gemini:
    ``json_text`` of functionCall args / functionResponse response). Images count 0.
  * Prompt tokens = sum over tools of ``tokens(json_text(tool))`` (each entry of the
    request's ``tools`` list; Gemini: each functionDeclaration; Anthropic: without its
    ``cache_control`` key) + sum over messages of (4 + sum of ``tokens(part)``). A system
    prompt (Anthropic ``system``, Gemini ``systemInstruction``) counts as one message.
  * Output tokens = ``tokens(reply text)`` or ``tokens(arguments)`` for a tool call,
    times the number of choices (OpenAI ``n``, Gemini ``candidateCount``).

Reply (``content.py``):
  * Text: ``f"Simulated {model} reply: {last_user_text[:60]}"`` where last_user_text is
    the text parts (joined by one space) of the last user message that has any text.
  * JSON mode (OpenAI ``response_format`` json_object, Gemini ``responseMimeType``
    application/json): ``json.dumps({"reply": text})``; with a schema (OpenAI
    json_schema, Gemini responseSchema/responseJsonSchema, Anthropic
    ``output_config.format``): ``json.dumps(example)``.
  * Tools: when tools are present, tool choice is not none, and the last message is not
    a tool result, the reply calls the named tool (else the first) with arguments
    ``json.dumps(example(schema))``. ``example``: required properties only; string
    "sim", integer/number 1, boolean true, enum -> first value, object -> recurse,
    array -> [].
  * Stop sequences cut the text before the earliest match (Anthropic reports
    ``stop_sequence``). Then a max-token limit smaller than ``tokens(text)`` cuts the
    text to ``limit * 4`` characters with finish ``length`` / ``max_tokens`` /
    ``MAX_TOKENS``. Neither applies to tool calls or to a scripted reply.

Provider-native caching (``cache.py``), per process, cleared by reset:
  * OpenAI format and Gemini: when the prompt is >= 1024 tokens and the same prefix
    (tools + all messages but the last) was seen before for that provider and model,
    cached = prefix tokens rounded down to a multiple of 128.
  * Anthropic: each block carrying ``cache_control`` (tools, system blocks, message
    content blocks, in that order) ends a cached prefix (a message's 4 overhead tokens
    belong to its first block). Each request writes the prefixes that end at its markers.
    The longest earlier-written prefix ending at any block boundary up to the last marker
    is read (``cache_read_input_tokens``); from there to the last marker is written
    (``cache_creation_input_tokens``, split by each marker's ttl "5m"/"1h");
    ``input_tokens`` is what remains. Cache keys ignore the markers themselves, so moving
    a marker forward in a growing conversation reads the earlier prefix. No minimum size.

Usage blocks as each provider reports them:
  * OpenAI ``usage`` with ``prompt_tokens_details.cached_tokens``; when streaming, only
    with ``stream_options.include_usage``: every chunk then has ``"usage": null`` and a
    final chunk with ``choices: []`` carries it.
  * Anthropic ``usage`` (input_tokens excludes cache tokens, plus cache_creation
    breakdown and service_tier). Streaming: message_start carries the input and cache
    fields with a placeholder ``output_tokens`` of 1 (as upstream; 0 for an empty
    reply); message_delta carries the final ``output_tokens``.
  * Gemini ``usageMetadata`` (promptTokenCount includes cached tokens;
    ``cachedContentTokenCount`` only when non-zero, as upstream). Streaming: every chunk
    carries the running count; the last one is final. SSE events end with CRLF CRLF,
    as upstream.

Faults and control API (``faults.py``, ``app.py``): ``POST /_sim/script``,
``POST /_sim/config``, ``GET /_sim/requests``, ``POST /_sim/reset``, ``GET /_sim/health``.
See those modules for details. Run with ``python -m infra.local.simulator --port N``.
"""
