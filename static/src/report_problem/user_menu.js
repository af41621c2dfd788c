/** @odoo-module **/
/** "Report a Problem" in the user menu, for every internal user, with the page they were on. */
import { browser } from "@web/core/browser/browser";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";

function reportProblemItem(env) {
    return {
        type: "item",
        id: "self_healing_report_problem",
        description: _t("Report a Problem"),
        callback: () => {
            env.services.action.doAction("self_healing.action_report_problem", {
                additionalContext: { default_page_url: browser.location.href },
            });
        },
        sequence: 45,
    };
}

registry.category("user_menuitems").add("self_healing_report_problem", reportProblemItem);
