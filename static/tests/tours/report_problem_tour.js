/** @odoo-module **/

import { registry } from "@web/core/registry";

// A plain internal user reports a problem from the user menu.
registry.category("web_tour.tours").add("self_healing_report_problem_tour", {
    steps: () => [
        { trigger: ".o_user_menu button", run: "click" },
        { trigger: "[data-menu=self_healing_report_problem]", run: "click" },
        { trigger: ".modal div[name=description] textarea", run: "edit The tour cannot print the delivery slip" },
        { trigger: ".modal button[name=action_submit]", run: "click" },
        { trigger: ".o_notification:contains(Your report was recorded)" },
    ],
});
