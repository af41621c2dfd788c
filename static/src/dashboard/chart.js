/** @odoo-module **/

import { Component, onWillStart, onWillUnmount, useEffect, useRef } from "@odoo/owl";
import { loadBundle } from "@web/core/assets";
import { cookie } from "@web/core/browser/cookie";
import { getColor } from "@web/core/colors/colors";

/**
 * A Chart.js chart, loaded the way web's graph renderer loads it (the
 * web.chartjs_lib bundle, shipped with web). ``series`` are
 * ``{label, values, type?}``; clicking a bar or point calls
 * ``onClick(seriesIndex, index)`` when the chart has a target for it.
 */
export class SelfHealingChart extends Component {
    static template = "self_healing.Chart";
    static props = {
        type: String,
        labels: Array,
        series: Array,
        onClick: { type: Function, optional: true },
        horizontal: { type: Boolean, optional: true },
        stacked: { type: Boolean, optional: true },
        percent: { type: Boolean, optional: true },
        height: { type: Number, optional: true },
    };
    static defaultProps = { height: 220 };

    setup() {
        this.canvasRef = useRef("canvas");
        this.chart = null;
        onWillStart(() => loadBundle("web.chartjs_lib"));
        useEffect(
            () => this.renderChart(),
            () => [this.props.labels, this.props.series]
        );
        onWillUnmount(() => this.chart?.destroy());
    }

    config() {
        const colorScheme = cookie.get("color_scheme");
        const percent = this.props.percent;
        const datasets = this.props.series.map((serie, index) => {
            const color = getColor(index, colorScheme, "odoo");
            return {
                label: serie.label,
                data: serie.values,
                type: serie.type || this.props.type,
                backgroundColor: color,
                borderColor: color,
                spanGaps: true,
                tension: 0.2,
            };
        });
        const stacked = Boolean(this.props.stacked);
        const valueAxis = {
            stacked,
            beginAtZero: true,
            ticks: percent
                ? { callback: (value) => `${Math.round(value * 100)}%` }
                : { precision: 0 },
            max: percent ? 1 : undefined,
        };
        return {
            type: this.props.type,
            data: { labels: this.props.labels, datasets },
            options: {
                maintainAspectRatio: false,
                animation: false,
                indexAxis: this.props.horizontal ? "y" : "x",
                scales: this.props.horizontal
                    ? { x: valueAxis, y: { stacked } }
                    : { x: { stacked }, y: valueAxis },
                plugins: {
                    legend: { display: datasets.length > 1, position: "bottom" },
                    tooltip: percent
                        ? {
                              callbacks: {
                                  label: (item) =>
                                      `${item.dataset.label}: ${Math.round(item.parsed.y * 100)}%`,
                              },
                          }
                        : {},
                },
                onClick: (event, elements) => {
                    if (elements.length && this.props.onClick) {
                        this.props.onClick(elements[0].datasetIndex, elements[0].index);
                    }
                },
                onHover: (event, elements) => {
                    const canvas = event.native && event.native.target;
                    if (canvas) {
                        canvas.style.cursor = elements.length && this.props.onClick ? "pointer" : "default";
                    }
                },
            },
        };
    }

    renderChart() {
        this.chart?.destroy();
        this.chart = new window.Chart(this.canvasRef.el, this.config());
    }
}
