/** @odoo-module **/

import { registry } from "@web/core/registry";
import { screenshotSteps } from "./self_healing_tour_utils";

// The Self-Healing settings as an administrator finds them: every block, then the autopilot switched off.
registry.category("web_tour.tours").add("self_healing_settings_tour", {
    steps: () => [
        { trigger: ".settings_tab [data-key=self_healing]", run: "click" },
        { trigger: ".app_settings_block[data-key=self_healing] .o_setting_box:contains(Critical scopes)" },
        { trigger: ".app_settings_block[data-key=self_healing] .o_setting_box:contains(Log capture)" },
        { trigger: ".app_settings_block[data-key=self_healing] .o_setting_box:contains(Diagnosis LLM)" },
        { trigger: "div[name=self_healing_autopilot] input[data-value=suggest]:checked" },
        ...screenshotSteps("settings"),
        { trigger: "div[name=self_healing_autopilot] input[data-value=off]", run: "click" },
        { trigger: ".o_form_button_save", run: "click" },
        { trigger: "body:not(:has(.o_dirty_warning)) div[name=self_healing_autopilot] input[data-value=off]:checked" },
    ],
});
