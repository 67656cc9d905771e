// The demo page's stand-in for the webui's script.js: the page callbacks an extension's JavaScript
// relies on, with the webui's timing. onUiLoaded callbacks run once per page load, when the element
// #txt2img_prompt first appears (the webui's txt2img prompt; the demo's Name box carries that id).
var uiLoadedCallbacks = [];
var uiLoadedDone = false;

function gradioApp() {
    var app = document.getElementsByTagName("gradio-app")[0];
    if (!app) return document;
    return app.shadowRoot ? app.shadowRoot : app;
}

function onUiLoaded(callback) {
    uiLoadedCallbacks.push(callback);
}

function runUiLoadedCallbacks() {
    uiLoadedCallbacks.forEach(function(callback) {
        try {
            callback();
        } catch (error) {
            console.error("error running an onUiLoaded callback:", error);
        }
    });
}

document.addEventListener("DOMContentLoaded", function() {
    var observer = new MutationObserver(function() {
        if (uiLoadedDone || !gradioApp().querySelector("#txt2img_prompt")) return;
        uiLoadedDone = true;
        observer.disconnect();
        runUiLoadedCallbacks();
    });
    observer.observe(document.documentElement, {childList: true, subtree: true});
});
