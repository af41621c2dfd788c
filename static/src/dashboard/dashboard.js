/** @odoo-module **/

import { Component, onWillStart, useState } from "@odoo/owl";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";

export class SelfHealingDashboard extends Component {
    static template = "self_healing.Dashboard";
    static props = ["*"];

    setup() {
        this.orm = useService("orm");
        this.action = useService("action");
        this.state = useState({ days: 7, data: null });
        this.requestId = 0;
        onWillStart(() => this.load());
    }

    async load() {
        // Switching periods quickly must not let an older, slower answer overwrite a newer one.
        const requestId = ++this.requestId;
        const data = await this.orm.call("self_healing.dashboard", "get_dashboard_data", [], {
            days: this.state.days,
        });
        if (requestId === this.requestId) {
            this.state.data = data;
        }
    }

    async setDays(days) {
        this.state.days = days;
        await this.load();
    }

    /** The records a figure counts, as the server defined them; null when the figure opens nothing. */
    target(key) {
        return (this.state.data && this.state.data.targets[key]) || null;
    }

    cardClass(key) {
        return this.target(key) ? "o_sh_clickable" : "";
    }

    open(target) {
        if (!target) {
            return;
        }
        this.action.doAction({
            type: "ir.actions.act_window",
            name: target.name,
            res_model: target.model,
            views: [
                [false, "list"],
                [false, "form"],
            ],
            domain: target.domain,
            context: { active_test: true },
        });
    }

    openKey(key) {
        this.open(this.target(key));
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

    openRecord(model, id) {
        this.action.doAction({
            type: "ir.actions.act_window",
            res_model: model,
            res_id: id,
            views: [[false, "form"]],
        });
    }
}

registry.category("actions").add("self_healing.dashboard", SelfHealingDashboard);
