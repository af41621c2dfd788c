/** @odoo-module **/

import { registry } from "@web/core/registry";

// The test creates one healed incident fixed automatically and one awaiting
// approval; the dashboard must show them in its cards and alerts.
registry.category("web_tour.tours").add("self_healing_dashboard_tour", {
    steps: () => [
        { trigger: ".o_self_healing_dashboard .o_sh_detected:contains(2)" },
        { trigger: ".o_sh_auto_fixed:contains(1)" },
        { trigger: ".o_sh_success_rate:contains(100%)" },
        { trigger: ".o_sh_top_fixed li:contains(GR-TOUR-001)" },
        { trigger: ".o_sh_alerts .o_sh_alert:contains(Tour incident awaiting approval)", run: "click" },
        { trigger: ".o_breadcrumb:contains(Tour incident awaiting approval)" },
        { trigger: ".o_form_view .o_statusbar_status .o_arrow_button_current:contains(Awaiting Approval)" },
    ],
});
