import logging
from dataclasses import dataclass, field

from odoo import _, api, models

from ..engine.library.error_classes import UNKNOWN
from ..engine.match import matching
from ..engine.similar import embed as embed_engine

_logger = logging.getLogger(__name__)

# Solved cases fetched per incident, to count support (most are not shown): the
# confidence's support term (1 - exp(-n/10)) gains nothing past about 50.
KNOWLEDGE_CANDIDATES = 50
GUARDRAIL_CANDIDATES = 5
SETTING_PREFIX = "self_healing.match_"


@dataclass
class IncidentMatch:
    """What the matcher found for one incident."""

    guardrail: object  # a self_healing.guardrail record, empty when nothing matched
    error_class: str
    match_score: float
    signal: str  # "rules", "vector" or "none"
    params: dict = field(default_factory=dict)
    kb_support: int = 0  # confirmed solved cases supporting the answer: the confidence's support input
    neighbours: list = field(default_factory=list)  # [(record, similarity)], most similar first
    supporting: list = field(default_factory=list)  # ids of the knowledge entries counted in kb_support
    probability: float = 0.0  # calibrated probability of error_class, before the policy's caps
    evidence: list = field(default_factory=list)  # dicts, each naming its "signal"
    provider: str = ""

    def as_evidence(self):
        """The JSON stored on the incident's match_evidence."""
        return {
            "signal": self.signal,
            "guardrail": self.guardrail.code if self.guardrail else None,
            "error_class": self.error_class,
            "score": self.match_score,
            "params": dict(self.params),
            "kb_support": self.kb_support,
            "supporting_ids": list(self.supporting),
            "probability": self.probability,
            "provider": self.provider,
            "neighbours": [
                {
                    "model": record._name,
                    "id": record.id,
                    "name": record.display_name,
                    "similarity": round(similarity, 4),
                }
                for record, similarity in self.neighbours
            ],
            "evidence": list(self.evidence),
        }


class SelfHealingMatcher(models.AbstractModel):
    """Matches incidents against the guardrails and the knowledge base (engine/matching.py)."""

    _name = "self_healing.matcher"
    _description = "Self-Healing Incident Matcher"

    @api.model
    def _match_text(self, incident):
        """The text an incident is matched by: its sample traceback, else its type and message."""
        if incident.sample_traceback:
            return incident.sample_traceback
        head = ": ".join(part for part in (incident.exception_type, incident.message_template) if part)
        return head or incident.name or ""

    @api.model
    def _match_settings(self):
        """The engine's thresholds, each overridable by a system parameter ``self_healing.match_<name>``."""
        parameters = self.env["ir.config_parameter"].sudo().search([("key", "=like", SETTING_PREFIX + "%")])
        overrides = {parameter.key[len(SETTING_PREFIX) :]: parameter.value for parameter in parameters}
        try:
            return matching.MatchSettings.from_overrides(overrides)
        except ValueError as exc:
            _logger.warning("ignoring match settings %s: %s", overrides, exc)
            return matching.DEFAULT_SETTINGS

    @api.model
    def match(self, incident):
        """The ``IncidentMatch`` of one incident; reads only, writes nothing."""
        incident.ensure_one()
        text = self._match_text(incident)
        Guardrail = self.env["self_healing.guardrail"]
        classifier = Guardrail._classifier()
        classification = classifier.classify(text)
        settings = self._match_settings()
        vector_notes = []
        neighbours, records = [], {}
        Entry = self.env["self_healing.knowledge.entry"]
        provider_signature = ""
        try:
            provider_signature = Entry._embedding_signature()
            vector = Entry._embedding_provider().embed([text])[0]
            entries = Entry._search_similar_vector(vector, k=KNOWLEDGE_CANDIDATES)
            guardrail_rows = self.env["self_healing.guardrail.vector"]._search_similar_vector(
                vector, k=GUARDRAIL_CANDIDATES
            )
        except (embed_engine.EmbeddingError, ValueError) as exc:
            # Similarity is the second signal: without it the rules still decide.
            _logger.warning("incident %s matched by rules only: %s", incident.id, exc)
            vector_notes.append({"signal": "vector_unavailable", "detail": str(exc)[:300]})
            entries, guardrail_rows = [], []
        for entry, similarity in entries:
            neighbour = self._knowledge_neighbour(entry, similarity, classifier, settings)
            neighbours.append(neighbour)
            records[(neighbour.kind, neighbour.id)] = entry
        for row, similarity in guardrail_rows:
            guardrail = row.guardrail_id
            neighbours.append(
                matching.Neighbour(
                    kind=matching.GUARDRAIL,
                    id=guardrail.id,
                    similarity=similarity,
                    title=guardrail.name or "",
                    guardrail=guardrail.code,
                    error_class=guardrail.error_class,
                )
            )
            records[(matching.GUARDRAIL, guardrail.id)] = guardrail
        suggestible = Guardrail.search(
            [("state", "=", "active"), ("code", "in", [n.guardrail for n in neighbours if n.guardrail])]
        )
        codes = {n.guardrail for n in neighbours if n.guardrail} | {classification.guardrail} - {None}
        result = matching.combine(
            classification,
            neighbours,
            settings,
            guardrail_classes={guardrail.code: guardrail.error_class for guardrail in suggestible},
            guardrail_cases=self._confirmed_cases_by_guardrail(codes),
        )
        guardrail = Guardrail.search([("code", "=", result.guardrail)], limit=1) if result.guardrail else Guardrail
        return IncidentMatch(
            guardrail=guardrail,
            error_class=result.error_class,
            match_score=result.score,
            signal=result.signal,
            params=dict(result.params),
            kb_support=result.kb_support,
            neighbours=[(records[(n.kind, n.id)], n.similarity) for n in result.neighbours],
            supporting=list(result.supporting),
            probability=result.probability,
            evidence=vector_notes + [dict(item) for item in result.evidence],
            provider=provider_signature,
        )

    @api.model
    def _confirmed_cases_by_guardrail(self, codes):
        """``{guardrail code: ids}`` of the active confirmed solved cases solved with each guardrail."""
        if not codes:
            return {}
        entries = self.env["self_healing.knowledge.entry"].search(
            [("guardrail_id.code", "in", sorted(codes)), ("confirmed", "=", True), ("solution", "!=", False)],
            order="id",
        )
        cases = {}
        for entry in entries:
            cases.setdefault(entry.guardrail_id.code, []).append(entry.id)
        return cases

    @api.model
    def _knowledge_neighbour(self, entry, similarity, classifier, settings):
        error_class = entry.error_class if entry.error_class and entry.error_class != UNKNOWN else None
        if not error_class and entry.guardrail_id.error_class not in (False, UNKNOWN):
            error_class = entry.guardrail_id.error_class
        inferred = None
        if not error_class and similarity >= settings.support_similarity:
            # An imported thread seldom says its class: the rules read it off its own
            # text (only for cases close enough for their class to matter).
            answer = classifier.classify(entry._embedding_text())
            inferred = answer.error_class if answer.answered else None
        return matching.Neighbour(
            kind=matching.KNOWLEDGE,
            id=entry.id,
            similarity=similarity,
            title=entry.name or "",
            guardrail=entry.guardrail_id.code or None,
            error_class=error_class,
            inferred_class=inferred,
            solved=bool((entry.solution or "").strip()),
            confirmed=entry.confirmed,
        )

    @api.model
    def apply_match(self, incidents):
        """Match each incident and store the outcome on it; a 'new' incident with a guardrail becomes 'matched'.

        Returns ``{incident id: IncidentMatch}``.
        """
        outcomes = {}
        for incident in incidents:
            outcome = self.match(incident)
            incident.write(
                {
                    "guardrail_id": outcome.guardrail.id or False,
                    "error_class": outcome.error_class,
                    "match_score": outcome.match_score,
                    "match_evidence": outcome.as_evidence(),
                }
            )
            if outcome.guardrail and incident.state == "new":
                incident._set_state(
                    "matched",
                    _(
                        "Matched to %(code)s (%(signal)s, score %(score).2f).",
                        code=outcome.guardrail.code,
                        signal=outcome.signal,
                        score=outcome.match_score,
                    ),
                )
            outcomes[incident.id] = outcome
        return outcomes
