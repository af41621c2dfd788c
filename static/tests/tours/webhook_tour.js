/** @odoo-module **/

import { registry } from "@web/core/registry";

// The notification settings: open the webhook the test prepared, set its secret, stop it
// sending spikes, save, send a test and see it delivered.
registry.category("web_tour.tours").add("self_healing_webhook_tour", {
    steps: () => [
        { trigger: ".o_list_view .o_data_row td:contains(Tour receiver)", run: "click" },
        { trigger: ".o_form_view .o_field_widget[name=secret] input", run: "edit tour-secret-key" },
        { trigger: ".o_form_view .o_field_widget[name=on_spike] input", run: "click" },
        { trigger: ".o_form_button_save", run: "click" },
        { trigger: ".o_form_view .o_form_saved, .o_form_view:not(:has(.o_form_button_save:visible))" },
        { trigger: ".o_form_statusbar button[name=action_send_test]", run: "click" },
        { trigger: ".o_form_view .o_field_widget[name=title]:contains(Test notification from Self-Healing)" },
        { trigger: ".o_statusbar_status .o_arrow_button_current:contains(Sent)" },
    ],
});
