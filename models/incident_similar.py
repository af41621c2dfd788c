from odoo import api, fields, models


class SelfHealingIncidentSimilar(models.Model):
    """The solved cases the matcher found for an incident, for people to read and follow."""

    _inherit = "self_healing.incident"

    similar_case_ids = fields.Many2many(
        "self_healing.knowledge.entry",
        compute="_compute_similar_cases",
        string="Similar Solved Cases",
        help="The confirmed solved cases that support the match first, then the other close cases.",
    )
    similar_case_count = fields.Integer(
        compute="_compute_similar_cases", help="Confirmed solved cases supporting the match (its support input)."
    )
    similar_case_summary = fields.Char(compute="_compute_similar_cases")

    @api.depends("match_evidence")
    def _compute_similar_cases(self):
        Entry = self.env["self_healing.knowledge.entry"]
        for incident in self:
            evidence = incident.match_evidence or {}
            supporting = [i for i in evidence.get("supporting_ids") or [] if isinstance(i, int)]
            near = [
                item.get("id")
                for item in evidence.get("neighbours") or []
                if isinstance(item, dict) and item.get("model") == Entry._name and isinstance(item.get("id"), int)
            ]
            ids = list(dict.fromkeys(supporting + near))
            entries = Entry.browse(ids).exists()
            incident.similar_case_ids = entries
            count = len(set(entries.ids) & set(supporting))
            incident.similar_case_count = count
            if not count:
                incident.similar_case_summary = self.env._("No confirmed solved case supports this match yet.")
            elif incident.guardrail_id:
                incident.similar_case_summary = self.env._(
                    "%(count)s similar case(s) solved with this fix.", count=count
                )
            else:
                incident.similar_case_summary = self.env._("%(count)s similar solved case(s).", count=count)
