/** @odoo-module **/

// What the Python side of the tours (tests/test_ui_tours.py) listens for on the console.
const REPORT = "self_healing_tour_report";
const SCREENSHOT = "self_healing_tour_screenshot";

/** A step that hands a figure read in the page to the test, which compares it with the database. */
export function reportStep(trigger, key, read = (el) => el.textContent.trim()) {
    return {
        trigger,
        run() {
            console.log(`${REPORT} ${key}=${read(this.anchor)}`);
        },
    };
}

/**
 * Two steps: ask the test to capture the page, then wait until the PNG is written (the test marks
 * the body), so the next step cannot change the page under the capture.
 */
export function screenshotSteps(name) {
    return [
        {
            trigger: "body",
            run() {
                console.log(`${SCREENSHOT} ${name}`);
            },
        },
        { trigger: `body[data-self-healing-screenshot="${name}"]` },
    ];
}
