"""Optional second opinion from an LLM (Anthropic or OpenAI, official SDKs).

The model may only choose one of the offered auto-patches and fill the
parameters that patch declares; everything else it says is evidence for a
human. Its answer is validated strictly and anything out of bounds is dropped
with a reason. Whatever goes wrong (network, timeout, refusal, garbage), the
caller gets a :class:`Diagnosis` carrying an ``error``, never an exception.
"""

import json
import math
import re
import time
from dataclasses import dataclass, field

from ..llm import prompt as llm_prompt

PROVIDERS = ("anthropic", "openai")
MAX_ANSWER_TOKENS = 1024
MAX_TEXT_CHARS = 2000
MAX_RAW_CHARS = 4000
MAX_PARAM_CHARS = 256
ERROR_CLASS_RE = re.compile(r"[A-Z][A-Z0-9_]{1,63}")


@dataclass
class Diagnosis:
    provider: str
    model: str
    error: str = None
    error_class: str = None
    root_cause: str = ""
    autopatch: str = None
    params: dict = field(default_factory=dict)
    confidence: float = None
    explanation: str = ""
    # One sentence per part of the answer that was refused.
    dropped: list = field(default_factory=list)
    missing_params: list = field(default_factory=list)
    # The answer as received (truncated), kept as evidence only.
    raw_answer: str = ""
    elapsed_ms: int = 0
    usage: dict = field(default_factory=dict)

    @property
    def ok(self):
        return self.error is None

    @property
    def actionable(self):
        """An offered auto-patch with every required parameter validly filled."""
        return self.ok and self.autopatch is not None and not self.missing_params

    def as_dict(self):
        return {
            "provider": self.provider,
            "model": self.model,
            "error": self.error,
            "error_class": self.error_class,
            "root_cause": self.root_cause,
            "autopatch": self.autopatch,
            "params": dict(self.params),
            "confidence": self.confidence,
            "explanation": self.explanation,
            "dropped": list(self.dropped),
            "missing_params": list(self.missing_params),
            "raw_answer": self.raw_answer,
            "elapsed_ms": self.elapsed_ms,
            "usage": dict(self.usage),
        }


def diagnose(
    provider,
    api_key,
    model,
    incident,
    candidates,
    base_url=None,
    timeout=20,
    max_retries=1,
    error_classes=None,
    max_tokens=MAX_ANSWER_TOKENS,
):
    """Ask ``provider`` to diagnose ``incident`` among ``candidates``.

    ``error_classes``, when given, is the closed list the answer's class must
    belong to; otherwise only its shape is checked.
    """
    diagnosis = Diagnosis(provider=provider, model=model)
    if provider not in PROVIDERS:
        diagnosis.error = f"unknown LLM provider {provider!r} (expected one of {', '.join(PROVIDERS)})"
        return diagnosis
    if not api_key or not model:
        diagnosis.error = "the LLM provider needs an API key and a model name"
        return diagnosis

    started = time.monotonic()
    try:
        prompt = llm_prompt.build_prompt(incident or {}, candidates or [])
        call = _ask_anthropic if provider == "anthropic" else _ask_openai
        text, usage = call(api_key, model, prompt, base_url, timeout, max_retries, max_tokens)
    except Exception as exc:  # the caller must never see the SDK's exceptions
        diagnosis.error = _describe_failure(exc)
        diagnosis.elapsed_ms = int((time.monotonic() - started) * 1000)
        return diagnosis
    diagnosis.elapsed_ms = int((time.monotonic() - started) * 1000)
    diagnosis.usage = usage
    return read_answer(diagnosis, text, prompt.offered, error_classes)


def read_answer(diagnosis, text, offered, error_classes=None):
    """Fill ``diagnosis`` from the model's raw text, validating every field."""
    diagnosis.raw_answer = (text or "")[:MAX_RAW_CHARS]
    answer = _json_object(text or "")
    if answer is None:
        diagnosis.error = "the answer is not a JSON object"
        return diagnosis

    diagnosis.error_class = _read_error_class(answer.get("error_class"), error_classes, diagnosis.dropped)
    diagnosis.root_cause = _read_text(answer.get("root_cause"), "root_cause", diagnosis.dropped)
    diagnosis.explanation = _read_text(answer.get("explanation"), "explanation", diagnosis.dropped)
    diagnosis.confidence = _read_confidence(answer.get("confidence"), diagnosis.dropped)
    diagnosis.autopatch = _read_autopatch(answer.get("autopatch"), offered, diagnosis.dropped)
    params = answer.get("params")
    if diagnosis.autopatch is None:
        if params:
            diagnosis.dropped.append("params dropped: no offered auto-patch was chosen")
        return diagnosis
    declared = offered[diagnosis.autopatch]
    diagnosis.params = _read_params(params, declared, diagnosis.dropped)
    diagnosis.missing_params = sorted(
        name for name, spec in declared.items() if spec["required"] and name not in diagnosis.params
    )
    if diagnosis.missing_params:
        diagnosis.dropped.append(
            f"auto-patch {diagnosis.autopatch} lacks required parameter(s): " + ", ".join(diagnosis.missing_params)
        )
    return diagnosis


def _ask_anthropic(api_key, model, prompt, base_url, timeout, max_retries, max_tokens):
    import anthropic

    client = anthropic.Anthropic(api_key=api_key, base_url=base_url, timeout=timeout, max_retries=max_retries)
    try:
        message = client.messages.create(
            model=model,
            max_tokens=max_tokens,
            system=prompt.system,
            messages=[{"role": "user", "content": prompt.user}],
        )
    finally:
        client.close()
    if message.stop_reason == "refusal":
        raise LLMRefusal("the model refused to answer")
    text = "".join(block.text for block in message.content if getattr(block, "type", "") == "text")
    usage = {}
    if message.usage is not None:
        usage = {"input_tokens": message.usage.input_tokens, "output_tokens": message.usage.output_tokens}
    return text, usage


def _ask_openai(api_key, model, prompt, base_url, timeout, max_retries, max_tokens):
    import openai

    options = {"api_key": api_key, "timeout": timeout, "max_retries": max_retries}
    if base_url:
        options["base_url"] = base_url
    client = openai.OpenAI(**options)
    try:
        completion = client.chat.completions.create(
            model=model,
            messages=[
                {"role": "system", "content": prompt.system},
                {"role": "user", "content": prompt.user},
            ],
            response_format={"type": "json_object"},
            max_completion_tokens=max_tokens,
        )
    finally:
        client.close()
    if not completion.choices:
        raise LLMRefusal("the answer has no choices")
    message = completion.choices[0].message
    if message.refusal:
        raise LLMRefusal(f"the model refused: {message.refusal[:200]}")
    usage = {}
    if completion.usage is not None:
        usage = {
            "input_tokens": completion.usage.prompt_tokens,
            "output_tokens": completion.usage.completion_tokens,
        }
    return message.content or "", usage


class LLMRefusal(Exception):
    pass


def _describe_failure(exc):
    # Status and class names are enough to act on; SDK messages can be long.
    status = getattr(exc, "status_code", None)
    name = type(exc).__name__
    if "Timeout" in name:
        return f"the LLM request timed out ({name})"
    if status is not None:
        return f"the LLM API answered HTTP {status} ({name}: {str(exc)[:200]})"
    if "Connection" in name:
        return f"could not reach the LLM API ({name})"
    if isinstance(exc, ImportError):
        return f"the SDK for this provider is not installed ({exc})"
    return f"{name}: {str(exc)[:200]}"


def _json_object(text):
    """The JSON object in ``text``: bare, fenced in ``` or wrapped in prose."""
    stripped = text.strip()
    if stripped.startswith("```"):
        stripped = re.sub(r"^```[a-zA-Z]*\s*|\s*```$", "", stripped)
    candidates = [stripped]
    first, last = stripped.find("{"), stripped.rfind("}")
    if 0 <= first < last:
        candidates.append(stripped[first : last + 1])
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


def _read_error_class(value, allowed, dropped):
    if value is None:
        return None
    if not isinstance(value, str) or not ERROR_CLASS_RE.fullmatch(value):
        dropped.append(f"error_class dropped: {_preview(value)} is not an UPPER_SNAKE_CASE class")
        return None
    if allowed is not None and value not in allowed:
        dropped.append(f"error_class dropped: {value} is not a known class")
        return None
    return value


def _read_text(value, name, dropped):
    if value is None:
        return ""
    if not isinstance(value, str):
        dropped.append(f"{name} dropped: not a string")
        return ""
    return value[:MAX_TEXT_CHARS]


def _read_confidence(value, dropped):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        dropped.append(f"confidence dropped: {_preview(value)} is not a number")
        return None
    if not 0.0 <= value <= 1.0:
        dropped.append(f"confidence dropped: {value} is outside [0, 1]")
        return None
    return float(value)


def _read_autopatch(value, offered, dropped):
    if value is None or value == "":
        return None
    if not isinstance(value, str) or value not in offered:
        dropped.append(f"autopatch dropped: {_preview(value)} was not offered")
        return None
    return value


def _read_params(params, declared, dropped):
    if params is None:
        return {}
    if not isinstance(params, dict):
        dropped.append("params dropped: not a JSON object")
        return {}
    kept = {}
    for name, value in params.items():
        spec = declared.get(name)
        if spec is None:
            dropped.append(f"param {_preview(name)} dropped: not declared by the auto-patch")
            continue
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            dropped.append(f"param {name} dropped: value must be a string or a number")
            continue
        text = str(value)
        if len(text) > MAX_PARAM_CHARS:
            dropped.append(f"param {name} dropped: value longer than {MAX_PARAM_CHARS} characters")
            continue
        if not _matches(spec["pattern"], text):
            dropped.append(f"param {name} dropped: {_preview(text)} does not match {spec['pattern']!r}")
            continue
        kept[name] = value
    return kept


def _matches(pattern, text):
    # A declaration without a usable pattern accepts nothing: fail closed.
    if not pattern:
        return False
    try:
        return re.fullmatch(pattern, text) is not None
    except re.error:
        return False


def _preview(value, limit=60):
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
