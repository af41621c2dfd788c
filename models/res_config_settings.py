from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from ..autopatches import transient_watch

PARAM = "self_healing.%s"


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    self_healing_autopilot = fields.Selection(
        [
            ("off", "Off: detect and alert only"),
            ("suggest", "Suggest: propose fixes for approval"),
            ("auto", "Auto: apply safe fixes"),
        ],
        string="Autopilot",
        default="suggest",
        config_parameter=PARAM % "autopilot",
    )
    self_healing_dry_run = fields.Boolean(string="Dry Run", config_parameter=PARAM % "dry_run")
    self_healing_threshold_auto = fields.Float(
        string="Auto-fix at or above", default=0.9, config_parameter=PARAM % "threshold_auto"
    )
    self_healing_threshold_notify = fields.Float(
        string="Auto-fix with notification at or above", default=0.8, config_parameter=PARAM % "threshold_notify"
    )
    self_healing_threshold_propose = fields.Float(
        string="Propose for approval at or above", default=0.6, config_parameter=PARAM % "threshold_propose"
    )
    self_healing_max_fixes_per_hour = fields.Integer(
        string="Auto-fixes per hour at most", default=10, config_parameter=PARAM % "max_fixes_per_hour"
    )
    self_healing_breaker_failures = fields.Integer(
        string="Pause autopilot after consecutive failures", default=3, config_parameter=PARAM % "breaker_failures"
    )
    self_healing_transient_window_seconds = fields.Integer(
        string="Transient faults resolved after quiet (s)",
        default=transient_watch.DEFAULT_WINDOW_SECONDS,
        config_parameter=transient_watch.WINDOW_PARAM,
        help="A watched serialization or lock failure counts as resolved once it has not recurred for this long.",
    )
    self_healing_critical_modules = fields.Char(
        string="Critical modules",
        config_parameter=PARAM % "critical_modules",
        help="Comma-separated module prefixes whose fixes always need approval (default: account, payment).",
    )
    self_healing_critical_models = fields.Char(
        string="Critical models",
        config_parameter=PARAM % "critical_models",
        help="Comma-separated models whose fixes always need approval "
        "(default: res.users, res.groups, ir.model.access, ir.rule).",
    )
    self_healing_capture_level = fields.Selection(
        [("WARNING", "Warning"), ("ERROR", "Error"), ("CRITICAL", "Critical")],
        string="Capture log records from",
        default="ERROR",
        config_parameter=PARAM % "capture_level",
    )
    self_healing_occurrence_keep_count = fields.Integer(
        string="Occurrences kept per incident", default=50, config_parameter=PARAM % "occurrence_keep_count"
    )
    self_healing_occurrence_keep_days = fields.Integer(
        string="Occurrences kept (days)", default=90, config_parameter=PARAM % "occurrence_keep_days"
    )
    self_healing_business_exceptions = fields.Char(
        string="Business errors (not incidents)",
        config_parameter=PARAM % "business_exceptions",
        help="Comma-separated exception names raised on purpose by business logic.",
    )
    self_healing_slow_request_seconds = fields.Float(
        string="Slow request (s)", default=5.0, config_parameter=PARAM % "slow_request_seconds"
    )
    self_healing_slow_request_queries = fields.Integer(
        string="Slow request (SQL queries)", default=1000, config_parameter=PARAM % "slow_request_queries"
    )
    self_healing_llm_provider = fields.Selection(
        [("none", "None"), ("anthropic", "Anthropic"), ("openai", "OpenAI")],
        string="Diagnosis LLM",
        default="none",
        config_parameter=PARAM % "llm_provider",
    )
    self_healing_llm_model = fields.Char(string="LLM model", config_parameter=PARAM % "llm_model")
    self_healing_llm_api_key = fields.Char(string="LLM API key", config_parameter=PARAM % "llm_api_key")
    self_healing_llm_base_url = fields.Char(string="LLM base URL", config_parameter=PARAM % "llm_base_url")
    self_healing_embedding_provider = fields.Selection(
        [("offline", "Offline (built in)"), ("openai", "OpenAI")],
        string="Embeddings",
        default="offline",
        config_parameter=PARAM % "embedding_provider",
    )
    self_healing_embedding_model = fields.Char(
        string="Embedding model",
        config_parameter=PARAM % "embedding_model",
        help="OpenAI embedding model (default text-embedding-3-small).",
    )
    self_healing_embedding_base_url = fields.Char(
        string="Embeddings base URL",
        config_parameter=PARAM % "embedding_base_url",
        help="An OpenAI-compatible endpoint; empty for OpenAI itself.",
    )
    self_healing_embedding_dimensions = fields.Integer(
        string="Embedding dimensions",
        config_parameter=PARAM % "embedding_dimensions",
        help="Ask the model for shorter vectors (0: the model's own size).",
    )
    self_healing_openai_embedding_key = fields.Char(
        string="OpenAI embeddings API key", config_parameter=PARAM % "openai_embedding_key"
    )

    self_healing_breaker_open = fields.Boolean(
        string="Circuit breaker open",
        compute="_compute_self_healing_breaker_open",
        help="Automatic fixes are paused after consecutive failures.",
    )

    def _compute_self_healing_breaker_open(self):
        Policy = self.env["self_healing.policy"]
        is_open = Policy._consecutive_failures() >= Policy._settings().breaker_failures
        for settings in self:
            settings.self_healing_breaker_open = is_open

    def action_self_healing_reset_breaker(self):
        self.env["self_healing.policy"].action_reset_breaker()

    @api.constrains("self_healing_threshold_auto", "self_healing_threshold_notify", "self_healing_threshold_propose")
    def _check_self_healing_thresholds(self):
        for settings in self:
            if not (
                0
                <= settings.self_healing_threshold_propose
                <= settings.self_healing_threshold_notify
                <= settings.self_healing_threshold_auto
                <= 1
            ):
                raise ValidationError(_("Confidence thresholds must satisfy 0 <= propose <= notify <= auto-fix <= 1."))

    @api.constrains("self_healing_transient_window_seconds")
    def _check_self_healing_transient_window(self):
        for settings in self:
            if settings.self_healing_transient_window_seconds < transient_watch.MIN_WINDOW_SECONDS:
                raise ValidationError(
                    _(
                        "The quiet window of transient faults must be %s seconds or more: a fault that comes back "
                        "every few seconds would otherwise look resolved.",
                        transient_watch.MIN_WINDOW_SECONDS,
                    )
                )
