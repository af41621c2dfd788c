/** @odoo-module **/

import { registry } from "@web/core/registry";

// On an incident form: assign it to oneself, then snooze it until three more occurrences.
registry.category("web_tour.tours").add("self_healing_incident_workflow_tour", {
    steps: () => [
        { trigger: ".o_breadcrumb:contains(Tour workflow incident)" },
        { trigger: ".o_form_statusbar button[name=action_assign_to_me]", run: "click" },
        { trigger: ".o_form_statusbar:not(:has(button[name=action_assign_to_me]))" },
        { trigger: ".o_form_statusbar button[name=action_open_snooze]", run: "click" },
        { trigger: ".modal .o_field_widget[name=mode] input[data-value=count]", run: "click" },
        { trigger: ".modal .o_field_widget[name=count] input", run: "edit 3" },
        { trigger: ".modal footer button[name=action_apply]", run: "click" },
        { trigger: "body:not(:has(.modal))" },
        { trigger: ".o_form_view .alert-info:contains(Snoozed until 3 more occurrences)" },
        { trigger: ".o_statusbar_status .o_arrow_button_current:contains(Ignored)" },
    ],
});
