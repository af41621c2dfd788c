/** @odoo-module **/

import { Component, onWillStart, useState } from "@odoo/owl";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { _t } from "@web/core/l10n/translation";

export class SelfHealingDashboard extends Component {
    static template = "self_healing.Dashboard";
    static props = ["*"];

    setup() {
        this.orm = useService("orm");
        this.action = useService("action");
        this.state = useState({ days: 7, data: null });
        onWillStart(() => this.load());
    }

    async load() {
        this.state.data = await this.orm.call("self_healing.dashboard", "get_dashboard_data", [], {
            days: this.state.days,
        });
    }

    async setDays(days) {
        this.state.days = days;
        await this.load();
    }

    percent(value) {
        return value === null || value === undefined ? "–" : `${Math.round(value * 100)}%`;
    }

    trend(current, previous) {
        if (current === null || previous === null || current === undefined || previous === undefined) {
            return "";
        }
        const delta = Math.round((current - previous) * 100);
        return delta === 0 ? "" : `${delta > 0 ? "↑" : "↓"}${Math.abs(delta)}`;
    }

    openIncidents(domain, name) {
        this.action.doAction({
            type: "ir.actions.act_window",
            name: name || _t("Incidents"),
            res_model: "self_healing.incident",
            views: [[false, "list"], [false, "form"]],
            domain,
        });
    }

    openIncident(id) {
        this.action.doAction({
            type: "ir.actions.act_window",
            res_model: "self_healing.incident",
            res_id: id,
            views: [[false, "form"]],
        });
    }
}

registry.category("actions").add("self_healing.dashboard", SelfHealingDashboard);
