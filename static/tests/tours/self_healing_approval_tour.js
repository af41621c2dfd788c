/** @odoo-module **/

import { registry } from "@web/core/registry";
import { screenshotSteps } from "./self_healing_tour_utils";

// From the incident awaiting approval to the fix attempt it proposes, then the review wizard.
function toTheWizard() {
    return [
        { trigger: ".o_form_view .o_arrow_button_current:contains(Awaiting Approval)" },
        { trigger: ".o_form_view button[name=action_view_fix_attempts]", run: "click" },
        { trigger: ".o_list_view .o_data_row td[name=autopatch_code]:contains(sequence_resync)", run: "click" },
        { trigger: ".o_form_view button[name=action_open_approval]", run: "click" },
        { trigger: ".modal .o_field_widget[name=attempt_ids] .o_data_row:contains(sequence_resync)" },
    ];
}

registry.category("web_tour.tours").add("self_healing_approve_tour", {
    steps: () => [
        ...toTheWizard(),
        { trigger: ".modal div[name=note] textarea", run: "edit Plan read: setval past max(id) is safe" },
        ...screenshotSteps("approval_wizard"),
        { trigger: ".modal button[name=action_approve]", run: "click" },
        { trigger: "body:not(:has(.modal))" },
        { trigger: ".o_form_view .o_statusbar_status .o_arrow_button_current:contains(Validated)" },
        { trigger: ".o_breadcrumb li.breadcrumb-item a:first", run: "click" },
        { trigger: ".o_form_view .o_arrow_button_current:contains(Healed)" },
        { trigger: ".o-mail-Chatter .o-mail-Message:contains(Approved by)" },
        ...screenshotSteps("incident_healed"),
    ],
});

registry.category("web_tour.tours").add("self_healing_reject_tour", {
    steps: () => [
        ...toTheWizard(),
        { trigger: ".modal div[name=note] textarea", run: "edit The table is being restored tonight" },
        { trigger: ".modal button[name=action_reject]", run: "click" },
        { trigger: "body:not(:has(.modal))" },
        { trigger: ".o_form_view .o_statusbar_status .o_arrow_button_current:contains(Rejected)" },
        { trigger: ".o-mail-Chatter .o-mail-Message:contains(The table is being restored tonight)" },
    ],
});
