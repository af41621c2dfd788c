/** @odoo-module **/

import { registry } from "@web/core/registry";

/** Clicks the bar or point ``index`` of dataset ``datasetIndex`` where a user would: on the canvas itself. */
function clickChart(selector, datasetIndex, index) {
    const canvas = document.querySelector(`${selector} canvas`);
    const chart = window.Chart.getChart(canvas);
    const element = chart.getDatasetMeta(datasetIndex).data[index];
    const { x, y } = element.getCenterPoint();
    const rect = canvas.getBoundingClientRect();
    const init = { bubbles: true, cancelable: true, clientX: rect.left + x, clientY: rect.top + y, view: window };
    canvas.dispatchEvent(new MouseEvent("mousemove", init));
    canvas.dispatchEvent(new MouseEvent("click", init));
}

function lastIndex(selector) {
    const chart = window.Chart.getChart(document.querySelector(`${selector} canvas`));
    return chart.data.labels.length - 1;
}

const backToDashboard = {
    trigger: ".o_breadcrumb .o_back_button a, .o_breadcrumb li.breadcrumb-item a",
    run: "click",
};

// The test creates, today, three incidents of which two healed by an automatic fix, and one
// 60 days old: the charts draw them, and each bar opens exactly the records it counts.
registry.category("web_tour.tours").add("self_healing_dashboard_charts_tour", {
    steps: () => [
        // Odoo's control panel, with the period switcher in it.
        { trigger: ".o_self_healing_dashboard .o_control_panel .o_sh_periods button.active[data-days='7']" },
        { trigger: ".o_sh_chart_detected_healed canvas" },
        { trigger: ".o_sh_chart_detected_healed .o_sh_day_zone:contains('Pacific/Auckland')" },
        { trigger: ".o_sh_chart_auto_success canvas" },
        { trigger: ".o_sh_chart_top_fixed canvas" },
        { trigger: ".o_sh_chart_confidence canvas" },
        { trigger: ".o_sh_chart_human canvas" },
        {
            content: "Click today's 'detected' bar",
            trigger: ".o_sh_chart_detected_healed canvas",
            run() {
                clickChart(".o_sh_chart_detected_healed", 0, lastIndex(".o_sh_chart_detected_healed"));
            },
        },
        { trigger: ".o_breadcrumb:contains(Incidents first seen on)" },
        { trigger: ".o_list_view .o_data_row:eq(2)" },
        { trigger: ".o_list_view:not(:has(.o_data_row:eq(3)))" },
        backToDashboard,
        {
            content: "Click today's 'healed' bar",
            trigger: ".o_sh_chart_detected_healed canvas",
            run() {
                clickChart(".o_sh_chart_detected_healed", 1, lastIndex(".o_sh_chart_detected_healed"));
            },
        },
        { trigger: ".o_breadcrumb:contains(Incidents healed on)" },
        { trigger: ".o_list_view .o_data_row:eq(1)" },
        { trigger: ".o_list_view:not(:has(.o_data_row:eq(2)))" },
        backToDashboard,
        {
            content: "Click the top fixed guardrail",
            trigger: ".o_sh_chart_top_fixed canvas",
            run() {
                clickChart(".o_sh_chart_top_fixed", 0, 0);
            },
        },
        { trigger: ".o_breadcrumb:contains(Fixes by GR-CHART-001)" },
        { trigger: ".o_list_view .o_data_row:eq(1)" },
        { trigger: ".o_list_view:not(:has(.o_data_row:eq(2)))" },
        backToDashboard,
        // A stale answer arriving last must not win: the 30-day request is held back in the
        // browser until after the 90-day answer, so it comes back last.
        {
            content: "Ask for 30 days (held back), then 90 days",
            trigger: ".o_sh_periods button[data-days='90']",
            run() {
                const send = XMLHttpRequest.prototype.send;
                window.__shStale = "waiting";
                XMLHttpRequest.prototype.send = function (body) {
                    if (typeof body === "string" && body.includes("get_dashboard_data") && body.includes('"days":30')) {
                        XMLHttpRequest.prototype.send = send;
                        this.addEventListener("loadend", () => (window.__shStale = "answered"));
                        setTimeout(() => send.call(this, body), 1500);
                        return;
                    }
                    return send.call(this, body);
                };
                document.querySelector(".o_sh_periods button[data-days='30']").click();
                document.querySelector(".o_sh_periods button[data-days='90']").click();
            },
        },
        { trigger: ".o_sh_periods button.active[data-days='90']" },
        {
            content: "the 30-day answer came back after the 90-day one",
            trigger: ".o_self_healing_dashboard",
            run: async () => {
                for (let tries = 0; window.__shStale !== "answered" && tries < 100; tries++) {
                    await new Promise((resolve) => setTimeout(resolve, 100));
                }
                if (window.__shStale !== "answered") {
                    throw new Error("the held-back request never came back");
                }
                // Give the component a frame to (wrongly) render it.
                await new Promise((resolve) => setTimeout(resolve, 300));
            },
        },
        { trigger: ".o_sh_periods button.active[data-days='90']" },
        // 4 incidents in 90 days, 3 in 30: the figure is the newest period's.
        { trigger: ".o_sh_detected:contains(4)" },
        // A figure that opens nothing does not look clickable.
        { trigger: ".o_sh_knowledge:not(.o_sh_clickable) .o_sh_knowledge_size" },
    ],
});

registry.category("web_tour.tours").add("self_healing_dashboard_empty_tour", {
    steps: () => [
        { trigger: ".o_self_healing_dashboard .o_control_panel .o_sh_periods" },
        { trigger: ".o_sh_empty:contains(No incident yet)" },
        { trigger: ".o_self_healing_dashboard:not(:has(canvas))" },
        { trigger: ".o_self_healing_dashboard:not(:has(.o_sh_cards))" },
    ],
});
