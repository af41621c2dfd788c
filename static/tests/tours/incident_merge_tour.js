/** @odoo-module **/

import { registry } from "@web/core/registry";

// From the incident list: select two incidents, merge them, then unmerge from the merged tab.
registry.category("web_tour.tours").add("self_healing_incident_merge_tour", {
    steps: () => [
        { trigger: ".o_data_row:contains(Tour merge often) .o_list_record_selector input", run: "click" },
        { trigger: ".o_data_row:contains(Tour merge rare) .o_list_record_selector input", run: "click" },
        { trigger: ".o_control_panel .o_cp_action_menus button", run: "click" },
        { trigger: ".o-dropdown--menu .o-dropdown-item:contains(Merge)", run: "click" },
        { trigger: ".o_breadcrumb:contains(Tour merge often)" },
        { trigger: ".o_notebook .nav-link:contains(Merged Incidents)", run: "click" },
        { trigger: ".o_field_widget[name=merged_ids] .o_data_row:contains(Tour merge rare)" },
        { trigger: ".o_field_widget[name=merged_ids] button[name=action_unmerge]", run: "click" },
        { trigger: ".o_notebook:not(:has(.nav-link:contains(Merged Incidents)))" },
    ],
});
