"""Embedding providers: texts in, unit-length float vectors out.

Every provider exposes ``name``, ``model``, ``dimension`` and
``embed(texts) -> list[list[float]]`` (one L2-normalised vector per text, in
order). ``get_provider(name, **settings)`` builds one from settings.

- ``offline`` (the default): deterministic feature hashing. No network, no
  model download, identical output on every machine and Python process.
- ``openai``: the official ``openai`` SDK (``client.embeddings.create``).

The ``model`` string identifies the vector space: vectors made under another
``model`` (or ``dimension``) must not be compared with each other.
"""

import base64
import functools
import hashlib
import math
import re
import struct

DEFAULT_DIMENSION = 384
DEFAULT_OPENAI_MODEL = "text-embedding-3-small"

# Sizes of OpenAI's embedding models when no ``dimensions`` is requested.
OPENAI_MODEL_DIMENSIONS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}


class EmbeddingError(Exception):
    """A provider could not produce embeddings (network, auth, bad answer)."""


def _normalised(values):
    norm = math.sqrt(math.fsum(value * value for value in values))
    if not norm or not math.isfinite(norm):
        raise EmbeddingError("cannot normalise a zero or non-finite embedding")
    return [value / norm for value in values]


# ---------------------------------------------------------------------------
# Offline feature hashing, tuned for Odoo / Python / PostgreSQL error texts.

# Order matters: the wider shapes (uuid, hex blobs) must be masked before the
# bare digit runs they contain.
_VARIABLE_PARTS = [
    (re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"), " uuid "),
    (re.compile(r"\b0x[0-9a-fA-F]+\b"), " hexaddr "),
    (re.compile(r"\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{12,}\b"), " hexid "),
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), " email "),
    (re.compile(r"\d+"), "N"),
]

_TRACEBACK_HEADER = re.compile(r"^\s*Traceback \(most recent call last\):\s*$")
_FRAME_LINE = re.compile(r'^\s*File "[^"]*", line \d+')

# Stack frames are mostly the same Odoo plumbing in every traceback (http.py,
# service/model.py, ...): they count, but far less than the error lines.
_FRAME_WEIGHT = 0.3

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_SUBTOKEN = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+")

# Words that occur in nearly every error text and so tell errors apart poorly.
# "not" and "no" stay: "does not exist" and "exists" are different faults.
_STOPWORDS = frozenset(
    "a an the of to in on at for by with from and or is are was were be been it its this that "
    "as into than then there their please you your we our error line file call last most recent".split()
)

# Each family of features is normalised on its own and then weighted, so the
# many character n-grams cannot drown the whole words.
_FAMILY_WEIGHTS = {"w": 1.0, "b": 0.7, "s": 0.7, "c": 0.5}
_NGRAM_SIZES = (3, 4)
_MAX_TEXT_CHARS = 20000


def mask_variable_parts(text):
    """``text`` with numbers, ids, addresses and hashes replaced by placeholders."""
    for pattern, placeholder in _VARIABLE_PARTS:
        text = pattern.sub(placeholder, text)
    return text


def _weighted_lines(text):
    in_frame_source = False
    for line in text[:_MAX_TEXT_CHARS].splitlines():
        if _TRACEBACK_HEADER.match(line):
            continue
        if _FRAME_LINE.match(line):
            in_frame_source = True
            yield line, _FRAME_WEIGHT
            continue
        # The indented source line printed under a frame belongs to the frame.
        if in_frame_source and line.startswith("    "):
            in_frame_source = False
            yield line, _FRAME_WEIGHT
            continue
        in_frame_source = False
        yield line, 1.0


def _subtokens(identifier):
    parts = []
    for piece in re.split(r"[._]+", identifier):
        parts.extend(match.lower() for match in _SUBTOKEN.findall(piece))
    return parts


def text_features(text):
    """Weighted features of ``text`` as ``{family: {feature: weight}}``."""
    families = {family: {} for family in _FAMILY_WEIGHTS}

    def add(family, feature, weight):
        bucket = families[family]
        bucket[feature] = bucket.get(feature, 0.0) + weight

    for line, weight in _weighted_lines(text):
        previous = None
        for identifier in _IDENTIFIER.findall(mask_variable_parts(line)):
            word = identifier.lower()
            if word in _STOPWORDS:
                continue
            add("w", word, weight)
            if previous is not None:
                add("b", previous + " " + word, weight)
            previous = word
            # Inside a compound name even "line" or "in" means something.
            for part in _subtokens(identifier):
                add("s", part, weight)
                padded = "<" + part + ">"
                for size in _NGRAM_SIZES:
                    for start in range(len(padded) - size + 1):
                        add("c", padded[start : start + size], weight)
    return families


@functools.lru_cache(maxsize=65536)
def _slot(feature, dimension):
    """Where a feature lands and with which sign; blake2b is stable across runs."""
    digest = int.from_bytes(hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest(), "little")
    return digest % dimension, (1.0 if digest >> 63 else -1.0)


class HashingEmbeddingProvider:
    """Deterministic feature-hashing embeddings that need nothing but Python."""

    name = "offline"

    def __init__(self, dimension=DEFAULT_DIMENSION):
        dimension = int(dimension)
        if dimension < 16:
            raise ValueError("the offline embedding needs at least 16 dimensions")
        self.dimension = dimension
        # Bump the version whenever the features change: old vectors become stale.
        self.model = "feature-hash-v1"

    def embed(self, texts):
        return [self._embed_one(text or "") for text in texts]

    def _embed_one(self, text):
        vector = [0.0] * self.dimension
        for family, features in text_features(text).items():
            if not features:
                continue
            # Sublinear term frequency: a repeated word matters, but not linearly.
            scaled = {feature: math.log1p(count) for feature, count in features.items()}
            family_norm = math.sqrt(math.fsum(value * value for value in scaled.values()))
            factor = _FAMILY_WEIGHTS[family] / family_norm
            for feature, value in scaled.items():
                index, sign = _slot(family + ":" + feature, self.dimension)
                vector[index] += sign * value * factor
        if not any(vector):
            # Text without any word still gets a valid (shared) unit vector.
            index, sign = _slot("empty:", self.dimension)
            vector[index] = sign
        return _normalised(vector)


# ---------------------------------------------------------------------------
# OpenAI


def _decode_embedding(data):
    """A vector from OpenAI's answer: floats, or base64 little-endian float32."""
    if isinstance(data, str):
        raw = base64.b64decode(data)
        return list(struct.unpack("<%df" % (len(raw) // 4), raw))
    return [float(value) for value in data]


class OpenAIEmbeddingProvider:
    """Embeddings from OpenAI (or any server speaking its /v1/embeddings)."""

    name = "openai"

    def __init__(
        self,
        model=DEFAULT_OPENAI_MODEL,
        api_key=None,
        base_url=None,
        timeout=30.0,
        batch_size=256,
        dimensions=None,
        max_retries=2,
        max_chars=24000,
        client=None,
    ):
        self.model = model
        self.batch_size = max(1, min(int(batch_size), 2048))  # the API takes at most 2048 inputs
        self.dimensions = int(dimensions) if dimensions else None
        self.max_chars = int(max_chars)
        self._client = client
        self._client_settings = {
            "api_key": api_key,
            "base_url": base_url,
            "timeout": float(timeout),
            "max_retries": int(max_retries),
        }
        self._dimension = self.dimensions or OPENAI_MODEL_DIMENSIONS.get(model)

    @property
    def dimension(self):
        if self._dimension is None:
            # An unknown model tells its size only by answering once.
            self._dimension = len(self.embed(["dimension probe"])[0])
        return self._dimension

    def _get_client(self):
        if self._client is None:
            try:
                import openai
            except ImportError as exc:
                raise EmbeddingError("the openai package is not installed (pip install openai)") from exc
            try:
                self._client = openai.OpenAI(**self._client_settings)
            except openai.OpenAIError as exc:
                raise EmbeddingError(f"cannot create the OpenAI client: {exc}") from exc
        return self._client

    def _prepared(self, text):
        # The API refuses empty strings and over-long inputs; a crude character
        # cap keeps long tracebacks under the token limit.
        text = (text or "").strip()[: self.max_chars]
        return text or "(empty)"

    def embed(self, texts):
        texts = [self._prepared(text) for text in texts]
        vectors = []
        for start in range(0, len(texts), self.batch_size):
            vectors.extend(self._embed_batch(texts[start : start + self.batch_size]))
        if vectors and self._dimension is None:
            self._dimension = len(vectors[0])
        return vectors

    def _embed_batch(self, batch):
        import openai

        options = {"model": self.model, "input": batch}
        if self.dimensions:
            options["dimensions"] = self.dimensions
        try:
            response = self._get_client().embeddings.create(**options)
        except openai.OpenAIError as exc:
            raise EmbeddingError(f"OpenAI embeddings failed: {exc}") from exc
        items = sorted(response.data, key=lambda item: item.index)
        if len(items) != len(batch):
            raise EmbeddingError(f"OpenAI returned {len(items)} embeddings for {len(batch)} texts")
        return [_normalised(_decode_embedding(item.embedding)) for item in items]


# ---------------------------------------------------------------------------

PROVIDERS = {
    "offline": HashingEmbeddingProvider,
    "openai": OpenAIEmbeddingProvider,
}


def get_provider(name="offline", **settings):
    """The provider called ``name``; unset settings (None or '') take defaults."""
    key = (name or "offline").strip().lower()
    if key not in PROVIDERS:
        raise ValueError(f"unknown embedding provider {name!r}; choose one of {sorted(PROVIDERS)}")
    settings = {option: value for option, value in settings.items() if value is not None and value != ""}
    return PROVIDERS[key](**settings)
