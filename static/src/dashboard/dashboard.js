/** @odoo-module **/

import { Component, onWillStart, useState } from "@odoo/owl";
import { formatDate, deserializeDate } from "@web/core/l10n/dates";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { Layout } from "@web/search/layout";
import { SelfHealingChart } from "./chart";

export const PERIODS = [7, 30, 90];

export class SelfHealingDashboard extends Component {
    static template = "self_healing.Dashboard";
    static components = { Layout, SelfHealingChart };
    static props = ["*"];

    setup() {
        this.orm = useService("orm");
        this.action = useService("action");
        this.periods = PERIODS;
        this.state = useState({ days: 7, data: null });
        this.requestId = 0;
        onWillStart(() => this.load());
    }

    get display() {
        return { controlPanel: {} };
    }

    async load() {
        // The server echoes the request number: an older, slower answer must not overwrite a newer period.
        const requestId = ++this.requestId;
        const data = await this.orm.call("self_healing.dashboard", "get_dashboard_data", [], {
            days: this.state.days,
            request_id: requestId,
        });
        if (data.request_id === this.requestId) {
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

    // ------------------------------------------------------------------ charts

    get dayZoneLabel() {
        return _t("(days in %s)", this.state.data.day_zone);
    }

    get dayLabels() {
        return this.state.data.daily.map((point) => formatDate(deserializeDate(point.day)));
    }

    /** True when the period has something for the chart: an empty chart is replaced by a sentence. */
    hasDaily(...keys) {
        return this.state.data.daily.some((point) => keys.some((key) => point[key]));
    }

    get detectedHealedSeries() {
        const daily = this.state.data.daily;
        return [
            { label: _t("Detected"), values: daily.map((point) => point.detected) },
            { label: _t("Healed"), values: daily.map((point) => point.healed) },
        ];
    }

    openDetectedHealed(seriesIndex, index) {
        this.open(this.state.data.daily[index].targets[seriesIndex ? "healed" : "detected"]);
    }

    get autoSuccessSeries() {
        return [
            {
                label: _t("Automatic fixes that worked"),
                values: this.state.data.daily.map((point) => point.auto_success_rate),
            },
        ];
    }

    openAutoSuccess(seriesIndex, index) {
        this.open(this.state.data.daily[index].targets.auto_applied);
    }

    get humanSeries() {
        return [
            {
                label: _t("Needed a human"),
                values: this.state.data.daily.map((point) => point.human_review_rate),
            },
        ];
    }

    openHuman(seriesIndex, index) {
        this.open(this.state.data.daily[index].targets.human_review);
    }

    get topFixedLabels() {
        return this.state.data.top_fixed.map((row) => row.name);
    }

    get topFixedSeries() {
        const rows = this.state.data.top_fixed;
        return [
            { label: _t("Worked"), values: rows.map((row) => row.succeeded) },
            { label: _t("Did not work"), values: rows.map((row) => row.times - row.succeeded) },
        ];
    }

    openTopFixed(seriesIndex, index) {
        const row = this.state.data.top_fixed[index];
        this.open(seriesIndex ? row.failed_target : row.succeeded_target);
    }

    get confidenceLabels() {
        return this.state.data.confidence_distribution.map(
            (row) => `${Math.round(row.low * 100)}–${Math.round(row.high * 100)}%`
        );
    }

    get confidenceSeries() {
        return [
            {
                label: _t("Incidents"),
                values: this.state.data.confidence_distribution.map((row) => row.count),
            },
        ];
    }

    get hasConfidence() {
        return this.state.data.confidence_distribution.some((row) => row.count);
    }

    openConfidence(seriesIndex, index) {
        const row = this.state.data.confidence_distribution[index];
        if (row.count) {
            this.open(row.target);
        }
    }

    get knowledgeSize() {
        return this.state.data.knowledge.reduce((total, row) => total + row.shipped + row.learned, 0);
    }

    openSettings() {
        this.action.doAction("self_healing.self_healing_settings_action");
    }
}

registry.category("actions").add("self_healing.dashboard", SelfHealingDashboard);
