/** @odoo-module **/

import { registry } from "@web/core/registry";
import { session } from "@web/session";
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

// Saving one's preferences reloads the page; Odoo 19's tours must be told so (18's refuse the key).
const reloads = session.server_version_info[0] >= 19 ? { expectUnloadPage: true } : {};

// The daily digest is opted into per user, from one's own preferences (Odoo 18 names the menu entry
// "settings", Odoo 19 "preferences").
registry.category("web_tour.tours").add("self_healing_digest_opt_in_tour", {
    steps: () => [
        { trigger: ".o_user_menu button", run: "click" },
        { trigger: ".dropdown-item[data-menu=settings], .dropdown-item[data-menu=preferences]", run: "click" },
        { trigger: ".modal div[name=self_healing_digest] input[type=checkbox]:not(:checked)", run: "click" },
        { trigger: ".modal div[name=self_healing_digest] input[type=checkbox]:checked" },
        { trigger: ".modal button[name=preference_save]", run: "click", ...reloads },
        { trigger: ".o_web_client:not(:has(.modal)) .o_user_menu button" },
    ],
});
