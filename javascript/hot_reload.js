// sd-webui-hot-reload: a toast on the webui page for every reload, error and restore.
// One global, hotReload; nothing runs at load but the registration with the host's page callbacks.
// Events come from the server's ./hot-reload/events stream (Server-Sent Events, one JSON record per
// reload: the schema in the README). Events the stream could not deliver come as one `gap`
// message: the page says so once and catches up from ./hot-reload/status. Every text from the
// server is inserted as text, never as HTML.
var hotReload = {
    maxVisible: 5,
    defaultSeconds: 6,
    retryMinMs: 1000,
    retryMaxMs: 30000,
    started: false,
    lastSeq: null, // the newest event this page has shown; null until the stream said hello
    retryMs: 1000,
    retryTimer: null,
    refreshTimer: null,
    panelWatcher: null,
    problemsShown: {},

    start: function() {
        if (hotReload.started) return;
        hotReload.started = true;
        hotReload.container();
        hotReload.connect();
    },

    // -- settings (Settings -> Hot Reload; the webui puts them in window.opts) --------------------
    option: function(key, fallback) {
        var opts = window.opts;
        if (opts && opts[key] !== undefined && opts[key] !== null) return opts[key];
        return fallback;
    },

    toastMs: function() {
        var seconds = Number(hotReload.option("hot_reload_toast_seconds", hotReload.defaultSeconds));
        return (isFinite(seconds) && seconds > 0 ? seconds : hotReload.defaultSeconds) * 1000;
    },

    // -- the connection -----------------------------------------------------------------------
    // SD.Next serves under its own subpath and wants its authFetch; A1111 and Forge serve the
    // page at the root of a possibly prefixed URL, so a relative URL is the one that works there.
    isSdNext: function() {
        return typeof window.authFetch === "function" && typeof window.subpath === "string";
    },

    url: function(name) {
        return (hotReload.isSdNext() ? window.subpath + "/hot-reload/" : "./hot-reload/") + name;
    },

    eventsUrl: function() {
        var query = hotReload.lastSeq === null ? "" : "?since=" + encodeURIComponent(hotReload.lastSeq);
        return hotReload.url("events") + query;
    },

    connect: function() {
        hotReload.retryTimer = null;
        if (hotReload.isSdNext()) {
            hotReload.readWithFetch();
            return;
        }
        var source = new EventSource(hotReload.eventsUrl());
        source.addEventListener("hello", function(message) {
            hotReload.onHello(hotReload.parse(message.data));
        });
        source.addEventListener("reload", function(message) {
            hotReload.onReload(hotReload.parse(message.data));
        });
        source.addEventListener("gap", function(message) {
            hotReload.onGap(hotReload.parse(message.data));
        });
        source.onerror = function() {
            // A dropped connection is retried by EventSource itself (with Last-Event-ID); a refused
            // one (404 while the webui adds its routes after a restart, 401) is final for it.
            if (source.readyState === EventSource.CLOSED) hotReload.retryLater();
        };
    },

    retryLater: function() {
        // Switched off in the settings, the server adds no routes: asking again would only fill
        // the browser console (and SD.Next's request log) with refusals.
        if (hotReload.option("hot_reload_enabled", true) === false) return;
        if (hotReload.retryTimer !== null) return;
        hotReload.retryTimer = setTimeout(hotReload.connect, hotReload.retryMs);
        hotReload.retryMs = Math.min(hotReload.retryMs * 2, hotReload.retryMaxMs);
    },

    // The event stream read through SD.Next's authFetch (EventSource cannot carry its auth).
    readWithFetch: function() {
        var buffer = "";
        var decoder = new TextDecoder();
        window.authFetch(hotReload.eventsUrl(), {headers: {Accept: "text/event-stream"}}).then(function(response) {
            if (!response || !response.ok || !response.body) throw new Error("event stream refused");
            var reader = response.body.getReader();
            var pump = function() {
                return reader.read().then(function(chunk) {
                    if (chunk.done) throw new Error("event stream ended");
                    buffer += decoder.decode(chunk.value, {stream: true});
                    var blocks = buffer.split("\n\n");
                    buffer = blocks.pop();
                    blocks.forEach(hotReload.onStreamBlock);
                    return pump();
                });
            };
            return pump();
        }).catch(function() {
            hotReload.retryLater();
        });
    },

    onStreamBlock: function(block) {
        var kind = "message";
        var data = [];
        block.split("\n").forEach(function(line) {
            if (line.indexOf("event:") === 0) kind = line.slice(6).trim();
            else if (line.indexOf("data:") === 0) data.push(line.slice(5).replace(/^ /, ""));
        });
        if (!data.length) return;
        var record = hotReload.parse(data.join("\n"));
        if (kind === "hello") hotReload.onHello(record);
        else if (kind === "reload") hotReload.onReload(record);
        else if (kind === "gap") hotReload.onGap(record);
    },

    parse: function(text) {
        try {
            return JSON.parse(text);
        } catch (error) {
            return null;
        }
    },

    onHello: function(hello) {
        if (!hello) return;
        hotReload.retryMs = hotReload.retryMinMs;
        // A start below what this page has seen: the webui process was restarted and counts anew.
        if (hotReload.lastSeq === null || hello.start < hotReload.lastSeq) hotReload.lastSeq = hello.start;
        if (hello.problem && !hotReload.problemsShown[hello.problem]) {
            hotReload.problemsShown[hello.problem] = true;
            hotReload.show({kind: "error", title: "Hot reload is not running", lines: [hello.problem]});
        }
        if (hello.dropped) hotReload.missed(); // the gap message that follows names the range
    },

    // Events `from`..`to` left the server's history before this page got them.
    onGap: function(gap) {
        if (!gap || typeof gap.to !== "number") return;
        if (hotReload.lastSeq === null || gap.to > hotReload.lastSeq) hotReload.lastSeq = gap.to;
        hotReload.missed();
    },

    // One notice however many gaps (a hello with `dropped` and its gap message are one), and the
    // page catches up: a missed event may have settled an error or a "still running" toast.
    missed: function() {
        if (!hotReload.container().querySelector(".hot-reload-missed")) {
            var notice = hotReload.show({kind: "info", title: "Hot reload",
                lines: ["Some events were missed \u2014 see the Hot Reload tab."]});
            notice.classList.add("hot-reload-missed");
        }
        hotReload.resync();
        hotReload.refreshPanelSoon();
    },

    resync: function() {
        var url = hotReload.url("status");
        var asked = hotReload.isSdNext() ? window.authFetch(url) : fetch(url, {credentials: "same-origin"});
        asked.then(function(response) {
            if (!response || !response.ok) throw new Error("status refused");
            return response.json();
        }).then(function(state) {
            if (!state || typeof state.last_seq !== "number") return;
            var files = state.files || {};
            var shown = hotReload.container().querySelectorAll(".hot-reload-error, .hot-reload-running");
            Array.prototype.forEach.call(shown, function(node) {
                // A toast of an event newer than this status tells more than it does; a run still
                // going on says so again; an error stays while its file still fails.
                if (!node.hotReloadFile || node.hotReloadSeq > state.last_seq) return;
                if (node.classList.contains("hot-reload-running") || files[node.hotReloadFile] !== "error") {
                    hotReload.dismiss(node);
                }
            });
        }).catch(function() {
            // Not reachable now (a restart, a refusal): the toasts stay as they are.
        });
    },

    onReload: function(event) {
        if (!event || typeof event.seq !== "number") return;
        if (hotReload.lastSeq !== null && event.seq <= hotReload.lastSeq) return; // shown already
        hotReload.lastSeq = event.seq;
        hotReload.toastFor(event);
        hotReload.refreshPanelSoon();
    },

    // -- what each event says -----------------------------------------------------------------
    toastFor: function(event) {
        var file = event.file || "";
        if (event.outcome === "ok") {
            hotReload.resolve(file);
            if (hotReload.option("hot_reload_success_toasts", true) === false) return;
            var replaced = (event.replaced || []).map(function(item) {
                return item.target + " (" + item.mode + ")" + (item.note ? ": " + item.note : "");
            });
            hotReload.show({
                kind: "success",
                file: file,
                title: "Reloaded " + file,
                meta: (event.duration_ms || 0).toFixed(1) + " ms",
                lines: replaced.length ? ["Replaced: " + replaced.join(", ")] : ["Nothing replaced"],
                notes: event.notes,
            });
        } else if (event.outcome === "error") {
            var error = event.error;
            var lines = [];
            if (error) {
                lines.push(error.type + ": " + error.message);
                if (error.line) lines.push(file + ":" + error.line);
            } else {
                lines.push(event.message);
            }
            hotReload.resolve(file);
            hotReload.show({
                kind: "error",
                file: file,
                seq: event.seq,
                title: file ? "Error in " + file : "Hot reload error",
                lines: lines,
                notes: event.notes,
                traceback: error ? error.traceback : "",
            });
        } else if (event.outcome === "removed") {
            hotReload.resolve(file);
            hotReload.show({
                kind: "info",
                file: file,
                title: "Removed " + file,
                lines: [event.restored && event.restored.length ? "Restored: " + event.restored.join(", ") : "Nothing to restore"],
                notes: event.notes,
            });
        } else if (event.outcome === "deferred") {
            hotReload.show({kind: "info", file: file, title: "Deferred " + file, lines: [event.message], notes: event.notes});
        } else if (event.outcome === "running") {
            // One per file, replaced by each newer notice, until the run ends (ok, error, removed).
            hotReload.resolve(file, ".hot-reload-running");
            hotReload.show({kind: "running", file: file, seq: event.seq, title: "Still running: " + file,
                lines: [event.message]});
        } else {
            var about = file && file !== "." ? file : "Hot reload"; // "." is the live folder itself
            hotReload.show({kind: "info", file: file, title: about, lines: [event.message], notes: event.notes});
        }
    },

    // -- toasts -------------------------------------------------------------------------------
    container: function() {
        var box = document.getElementById("hot-reload-toasts");
        if (box) return box;
        box = document.createElement("div");
        box.id = "hot-reload-toasts";
        box.className = "hot-reload-toasts";
        box.setAttribute("aria-live", "polite");
        document.body.appendChild(box);
        return box;
    },

    element: function(tag, className, text) {
        var node = document.createElement(tag);
        if (className) node.className = className;
        if (text !== undefined) node.textContent = text;
        return node;
    },

    show: function(toast) {
        var box = hotReload.container();
        var node = hotReload.element("div", "hot-reload-toast hot-reload-" + toast.kind);
        node.setAttribute("role", toast.kind === "error" ? "alert" : "status");
        node.hotReloadFile = toast.file || "";
        node.hotReloadSeq = toast.seq || 0;

        var head = hotReload.element("div", "hot-reload-toast-head");
        head.appendChild(hotReload.element("span", "hot-reload-toast-title", toast.title));
        if (toast.meta) head.appendChild(hotReload.element("span", "hot-reload-toast-meta", toast.meta));
        var close = hotReload.element("button", "hot-reload-toast-close", "\u00d7");
        close.type = "button";
        close.title = "Dismiss";
        close.setAttribute("aria-label", "Dismiss");
        close.addEventListener("click", function() {
            hotReload.dismiss(node);
        });
        head.appendChild(close);
        node.appendChild(head);

        (toast.lines || []).forEach(function(line) {
            node.appendChild(hotReload.element("div", "hot-reload-toast-line", line));
        });
        (toast.notes || []).forEach(function(note) {
            node.appendChild(hotReload.element("div", "hot-reload-toast-note", note));
        });
        if (toast.traceback) {
            var details = hotReload.element("details", "hot-reload-toast-details");
            details.appendChild(hotReload.element("summary", "", "Traceback"));
            details.appendChild(hotReload.element("pre", "hot-reload-toast-traceback", toast.traceback));
            node.appendChild(details);
        }

        box.appendChild(node);
        if (toast.kind !== "error" && toast.kind !== "running") hotReload.expireLater(node);
        hotReload.trim(box);
        return node;
    },

    // Short-lived toasts go after the set duration; the pointer over one keeps it.
    expireLater: function(node) {
        var timer = null;
        var arm = function() {
            clearTimeout(timer);
            timer = setTimeout(function() {
                hotReload.dismiss(node);
            }, hotReload.toastMs());
        };
        node.addEventListener("mouseenter", function() {
            clearTimeout(timer);
        });
        node.addEventListener("mouseleave", arm);
        node.addEventListener("focusin", function() {
            clearTimeout(timer);
        });
        arm();
    },

    dismiss: function(node) {
        if (node.parentNode) node.parentNode.removeChild(node);
    },

    // A newer event of a file settles its earlier error or "still running" notice: that toast goes.
    resolve: function(file, selector) {
        if (!file) return;
        var settled = hotReload.container().querySelectorAll(selector || ".hot-reload-error, .hot-reload-running");
        Array.prototype.forEach.call(settled, function(node) {
            if (node.hotReloadFile === file) hotReload.dismiss(node);
        });
    },

    // At most maxVisible: the oldest short-lived toasts go first, errors (and the notice of missed
    // events, which a burst of catching up would push out at once) only when nothing else is left.
    trim: function(box) {
        while (box.children.length > hotReload.maxVisible) {
            var oldest = box.querySelector(".hot-reload-toast:not(.hot-reload-error):not(.hot-reload-missed)") ||
                box.firstElementChild;
            hotReload.dismiss(oldest);
        }
    },

    // -- the Hot Reload tab follows the events: at once while it shows, else when it comes into view
    refreshPanelSoon: function() {
        clearTimeout(hotReload.refreshTimer);
        hotReload.refreshTimer = setTimeout(function() {
            var root = typeof gradioApp === "function" ? gradioApp() : document;
            var button = root.querySelector("#hot_reload_refresh");
            if (!button) return;
            if (button.offsetParent !== null) {
                button.click();
                return;
            }
            if (hotReload.panelWatcher || typeof IntersectionObserver !== "function") return;
            hotReload.panelWatcher = new IntersectionObserver(function(entries, watcher) {
                if (!entries.some(function(entry) { return entry.isIntersecting; })) return;
                watcher.disconnect();
                hotReload.panelWatcher = null;
                button.click();
            });
            hotReload.panelWatcher.observe(button);
        }, 300);
    },
};

// SD.Next: onUiReady comes after window.opts and window.subpath are known.
if (typeof onUiReady === "function") {
    onUiReady(hotReload.start);
} else {
    onUiLoaded(hotReload.start);
}
