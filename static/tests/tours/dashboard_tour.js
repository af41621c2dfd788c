/** @odoo-module **/

import { registry } from "@web/core/registry";

// The test creates one healed incident fixed automatically and one awaiting
// approval; the dashboard must show them in its cards and alerts, and a card
// opens exactly the records it counts.
registry.category("web_tour.tours").add("self_healing_dashboard_tour", {
    steps: () => [
        { trigger: ".o_self_healing_dashboard .o_sh_detected:contains(2)" },
        { trigger: ".o_sh_auto_fixed:contains(1)" },
        { trigger: ".o_sh_success_rate:contains(100%)" },
        {
            content: "The top fixes chart names the guardrail",
            trigger: ".o_sh_chart_top_fixed canvas",
            run() {
                const labels = window.Chart.getChart(this.anchor || document.querySelector(".o_sh_chart_top_fixed canvas"))
                    .data.labels;
                if (!labels.includes("GR-TOUR-001")) {
                    throw new Error(`GR-TOUR-001 missing from the top fixes: ${labels}`);
                }
            },
        },
        { trigger: ".o_sh_alerts .o_sh_alert:contains(Tour incident awaiting approval)", run: "click" },
        { trigger: ".o_breadcrumb:contains(Tour incident awaiting approval)" },
        { trigger: ".o_form_view .o_statusbar_status .o_arrow_button_current:contains(Awaiting Approval)" },
        { trigger: ".o_breadcrumb .o_back_button a, .o_breadcrumb li.breadcrumb-item a", run: "click" },
        // The knowledge base size opens nothing, so it does not look clickable.
        { trigger: ".o_sh_learning li:first-child:not(.o_sh_clickable)" },
        { trigger: ".o_sh_card.o_sh_clickable:has(.o_sh_detected)", run: "click" },
        { trigger: ".o_list_view .o_data_row:eq(1)" },
        { trigger: ".o_list_view:not(:has(.o_data_row:eq(2)))" },
    ],
});
