/** @odoo-module **/

import { registry } from "@web/core/registry";
import { reportStep, screenshotSteps } from "./self_healing_tour_utils";

const rowCount = () => document.querySelectorAll(".o_list_view .o_data_row").length;

// Read the cards, then open each clickable one and count the rows of the list it lands on:
// the test asserts both numbers against the database.
registry.category("web_tour.tours").add("self_healing_dashboard_clickthrough_tour", {
    steps: () => [
        { trigger: ".o_self_healing_dashboard .o_sh_alerts .o_sh_alert" },
        reportStep(".o_sh_detected", "detected_figure", (el) => parseInt(el.textContent)),
        reportStep(".o_sh_human", "human_figure", (el) => parseInt(el.textContent)),
        reportStep(".o_sh_auto_fixed", "auto_fixed_figure", (el) => parseInt(el.textContent)),
        ...screenshotSteps("dashboard"),
        { trigger: ".o_sh_card:has(.o_sh_detected)", run: "click" },
        { trigger: ".o_list_view .o_data_row" },
        reportStep(".o_list_view", "detected_rows", rowCount),
        { trigger: ".o_breadcrumb .o_back_button a, .o_breadcrumb li.breadcrumb-item a", run: "click" },
        { trigger: ".o_self_healing_dashboard .o_sh_card:has(.o_sh_human)", run: "click" },
        { trigger: ".o_list_view .o_data_row" },
        reportStep(".o_list_view", "human_rows", rowCount),
    ],
});
