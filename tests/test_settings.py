from odoo.exceptions import ValidationError
from odoo.tests import tagged

from ..autopatches import transient_watch
from .common import SelfHealingCase


@tagged("post_install", "-at_install")
class TestSettings(SelfHealingCase):
    def test_thresholds_must_be_ordered(self):
        with self.assertRaisesRegex(ValidationError, "propose <= notify <= auto-fix"):
            self.env["res.config.settings"].create(
                {"self_healing_threshold_propose": 0.85, "self_healing_threshold_notify": 0.8}
            )

    def test_transient_window_is_a_setting_with_a_floor(self):
        with self.assertRaisesRegex(ValidationError, "10 seconds or more"):
            self.env["res.config.settings"].create({"self_healing_transient_window_seconds": 5})
        self.env["res.config.settings"].create({"self_healing_transient_window_seconds": 120}).execute()
        self.assertEqual(self.env["ir.config_parameter"].sudo().get_param(transient_watch.WINDOW_PARAM), "120")
        self.assertEqual(transient_watch.default_window(self.env).total_seconds(), 120)
