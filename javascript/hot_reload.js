// sd-webui-hot-reload: a toast on the webui page for every reload, error and restore, and what the
// user typed kept across the page reloads it makes.
// One global, hotReload; nothing runs at load but the registration with the host's page callbacks.
// Events come from the server's ./hot-reload/events stream (Server-Sent Events, one JSON record per
// reload: the schema in docs/reference.md). Events the stream could not deliver come as one `gap`
// message: the page says so once and catches up from ./hot-reload/status. Every text from the
// server is inserted as text, never as HTML.
var hotReload = {
    maxVisible: 3, // the newest; the others fold behind "+N more"
    maxKept: 30,
    burstMs: 1000, // short-lived toasts of other files this close together are one toast
    groupLines: 6,
    changedShown: 6,
    reloadingUiLabel: "Reloading UI\u2026", // a Reload UI button's label while the host has not answered
    defaultSeconds: 6,
    retryMinMs: 1000,
    retryMaxMs: 30000,
    started: false,
    lastSeq: null, // the newest event this page has shown; null until the stream said hello
    app: null, // the app that served the last hello: another one after the page asked for Reload UI is its new page
    reloadUiAsked: false,
    liveAfter: null, // events up to this seq were in the history when the stream said hello: replays, not news
    newestOfFile: {}, // file -> seq of its newest event seen, so a late status cannot undo it
    burst: null,
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
        hotReload.restoring = hotReload.restoreState();
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

    request: function(name, options) {
        var url = hotReload.url(name);
        if (hotReload.isSdNext()) return window.authFetch(url, options);
        options.credentials = "same-origin";
        return fetch(url, options);
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
        if (hello.app) {
            // The page asked for Reload UI and a new app answers: its page is the one to show.
            if (hotReload.app !== null && hello.app !== hotReload.app && hotReload.reloadUiAsked) {
                hotReload.reloadPage(null);
                return;
            }
            hotReload.app = hello.app;
        }
        // The server rebuilt the UI after it served this page (while it loaded, or while its stream
        // was down): the rebuild's event may be one it never hears as news.
        if (typeof hello.ui === "number" && hello.ui > hotReload.pageVersion()) {
            hotReload.rebuiltSoon({message: "the UI was rebuilt while this page loaded"});
        }
        var first = hotReload.lastSeq === null;
        hotReload.liveAfter = typeof hello.last_seq === "number" ? hello.last_seq : hello.start;
        // A start below what this page has seen: the webui process was restarted and counts anew.
        if (first || hello.start < hotReload.lastSeq) hotReload.lastSeq = hello.start;
        if (hello.problem && !hotReload.problemsShown[hello.problem]) {
            hotReload.problemsShown[hello.problem] = true;
            hotReload.show({kind: "error", title: "Hot reload is not running", lines: [hello.problem]});
        }
        if (hello.dropped) hotReload.missed(); // the gap message that follows names the range
        else if (first) hotReload.resync(); // a page opened after an error shows what fails now
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

    // The status settles what the page cannot know from its events: a toast whose file has had a
    // newer event since (one the page missed: an error fixed, a run that ended) goes, and every
    // file failing now has its error toast. Settled when the promise it returns is.
    resync: function() {
        return hotReload.request("status", {}).then(function(response) {
            if (!response || !response.ok) throw new Error("status refused");
            return response.json();
        }).then(function(state) {
            if (!state || typeof state.last_seq !== "number") return;
            // Only a newer event of its file settles a toast. Its absence from the status's other
            // fields settles nothing: they may have been read before its event was published.
            var newest = state.newest || {};
            var shown = hotReload.container().querySelectorAll(".hot-reload-error, .hot-reload-running");
            Array.prototype.forEach.call(shown, function(node) {
                if (node.hotReloadFile && (newest[node.hotReloadFile] || 0) > node.hotReloadSeq) hotReload.dismiss(node);
            });
            (state.failing || []).forEach(function(event) {
                if (!event || !event.file || (hotReload.newestOfFile[event.file] || 0) >= event.seq) return;
                hotReload.newestOfFile[event.file] = event.seq;
                hotReload.toastFor(event);
            });
        }).catch(function() {
            // Not reachable now (a restart, a refusal): the toasts stay as they are.
        });
    },

    onReload: function(event) {
        if (!event || typeof event.seq !== "number") return;
        if (hotReload.lastSeq !== null && event.seq <= hotReload.lastSeq) return; // shown already
        hotReload.lastSeq = event.seq;
        if (event.file) hotReload.newestOfFile[event.file] = event.seq;
        // The server rebuilt this page's UI: a live event reloads the page at once. One the page
        // missed and gets on reconnecting may be old news: its toast offers the reload instead.
        if (event.needs === "reload_now" && hotReload.liveAfter !== null && event.seq > hotReload.liveAfter) {
            hotReload.rebuiltSoon(event);
            return;
        }
        hotReload.toastFor(event);
        hotReload.refreshPanelSoon();
    },

    // -- what each event says -----------------------------------------------------------------
    toastFor: function(event) {
        var file = event.file || "";
        // A newer event of a file settles its earlier toasts that stay: an error, "still running",
        // "waiting". Only a run settles an error; another save while waiting is one wait.
        if (event.outcome === "deferred") hotReload.resolve(file, ".hot-reload-waiting");
        else if (event.outcome === "running") hotReload.resolve(file, ".hot-reload-running");
        else if (event.outcome !== "info") hotReload.resolve(file);
        var notes = event.notes || [];
        if (event.needs === "reload_now" && event.outcome !== "error") {
            hotReload.show({kind: "info", file: file, title: hotReload.rebuiltTitle([event.message]), notes: notes,
                lines: ["Reload the page to see it"], actions: [hotReload.reloadPageAction()]});
            return;
        }
        if (event.outcome === "ok") {
            if (hotReload.option("hot_reload_success_toasts", true) === false) return;
            var replaced = (event.replaced || []).map(function(item) {
                return item.target + " (" + item.mode + ")" + (item.note ? ": " + item.note : "");
            });
            var lines = [];
            if (replaced.length) lines.push("Replaced: " + replaced.join(", "));
            if ((event.restored || []).length) lines.push("Restored: " + event.restored.join(", "));
            if (!lines.length) lines.push("Nothing replaced");
            hotReload.show({kind: "success", file: file, title: "Reloaded " + file, meta: hotReload.ms(event),
                lines: lines, notes: notes, groupable: true});
        } else if (event.outcome === "updated") {
            hotReload.showUpdated(event);
        } else if (event.outcome === "error") {
            hotReload.showError(event);
        } else if (event.outcome === "removed") {
            hotReload.show({kind: "info", file: file, title: "Removed " + file, notes: notes, groupable: true,
                lines: [(event.restored || []).length ? "Restored: " + event.restored.join(", ") : "It had replaced nothing"]});
        } else if (event.outcome === "deferred") {
            hotReload.show({kind: "waiting", file: file, seq: event.seq, title: "Waiting: " + file,
                lines: [event.message], notes: notes, actions: [hotReload.applyNowAction()]});
        } else if (event.outcome === "running") {
            hotReload.show({kind: "running", file: file, seq: event.seq, title: "Still running: " + file,
                lines: [event.message]});
        } else {
            var about = file && file !== "." ? file : "Hot reload"; // "." is the live folder itself
            hotReload.show({kind: "info", file: file, title: about, lines: [event.message], notes: notes});
        }
    },

    ms: function(event) {
        return event.duration_ms ? event.duration_ms.toFixed(1) + " ms" : "";
    },

    showUpdated: function(event) {
        var file = event.file || "";
        var notes = event.notes || [];
        if (event.asset === "css") {
            var swapped = event.url ? hotReload.swapStylesheet(event.url) : 0;
            if (swapped) {
                if (hotReload.option("hot_reload_success_toasts", true) === false) return;
                hotReload.show({kind: "success", file: file, title: "Style updated: " + file, groupable: true,
                    lines: ["This page uses the new stylesheet"], notes: notes});
            } else {
                hotReload.show({kind: "info", file: file, title: "Style changed: " + file, notes: notes,
                    lines: ["This page does not link it yet: reload the page to use it"],
                    actions: [hotReload.reloadPageAction()]});
            }
            return;
        }
        if (event.asset === "js" || event.needs === "reload_page") {
            hotReload.show({kind: "info", file: file, title: "JavaScript changed: " + file, notes: notes,
                lines: ["Reload the page to run the new script"], actions: [hotReload.reloadPageAction()]});
            return;
        }
        var modules = event.modules || [];
        var prefix = modules.length === 1 ? modules[0] + "." : null; // names are said within their module
        var changed = (event.changed || []).map(function(change) {
            var name = prefix && change.name.indexOf(prefix) === 0 ? change.name.slice(prefix.length) : change.name;
            return name + " (" + change.kind + " " + change.action + ")";
        });
        var summary = changed.length ? changed.slice(0, hotReload.changedShown).join(", ") : "nothing changed";
        if (changed.length > hotReload.changedShown) summary += " and " + (changed.length - hotReload.changedShown) + " more";
        var toast = {kind: "success", file: file, title: "Updated " + file, meta: hotReload.ms(event),
            lines: [(modules.length ? modules.join(", ") + ": " : "") + summary], notes: notes};
        // Reload UI, or a restart where the host cannot rebuild its page: said even when success
        // toasts are off, and never folded into a group.
        if (event.needs === "reload_ui") {
            toast.actions = [hotReload.reloadUiAction()];
        } else if (event.needs !== "restart") {
            if (hotReload.option("hot_reload_success_toasts", true) === false) return;
            toast.groupable = true;
        }
        hotReload.show(toast);
    },

    showError: function(event) {
        // "." is the folder itself: a notice of the reloader, not of a file.
        var file = event.file === "." ? "" : event.file || "";
        var error = event.error;
        // Raised when the webui called a replacement: the file ran fine, and its replacement stays,
        // which its message says (with the target), in place of the bare error.
        var called = event.during === "call";
        var lines = [];
        if (error) {
            lines.push(called && event.message ? event.message : error.type + ": " + error.message);
            if (error.line) lines.push({file: file, path: error.file || event.path, line: error.line});
        }
        // The message says what was kept and, for a module, which; an error record alone does not.
        if (event.message && (!error || (event.modules || []).length)) lines.push(event.message);
        hotReload.show({
            kind: "error",
            file: file,
            seq: event.seq,
            title: called ? "Failed when called: " + file : file ? "Error in " + file : "Hot reload error",
            lines: lines,
            notes: event.notes,
            traceback: error ? error.traceback : "",
            actions: event.needs === "reload_ui" ? [hotReload.reloadUiAction()] : [],
        });
        if (event.needs === "restart" && !file) hotReload.reloadUiRefused();
    },

    // -- page assets --------------------------------------------------------------------------
    pathOf: function(url) {
        try {
            return new URL(url, document.baseURI).pathname;
        } catch (error) {
            return "";
        }
    },

    // Each <link> to the changed stylesheet (its path without the version query) loads the new
    // one in place: the page, its inputs and its images stay.
    swapStylesheet: function(url) {
        var wanted = hotReload.pathOf(url);
        var swapped = 0;
        if (!wanted) return 0;
        Array.prototype.forEach.call(document.querySelectorAll("link[rel~='stylesheet']"), function(link) {
            if (hotReload.pathOf(link.getAttribute("href") || "") !== wanted) return;
            var fresh = new URL(url, document.baseURI);
            // The same version query as before (a save within the file time's resolution) would
            // be served from the cache.
            if (fresh.href === link.href) fresh.searchParams.set("hot_reload", String(Date.now()));
            link.href = fresh.href;
            swapped += 1;
        });
        return swapped;
    },

    // -- the buttons --------------------------------------------------------------------------
    applyNowAction: function() {
        return {label: "Apply now", run: function(button, node) {
            hotReload.post("apply-now", button, node, "Applying\u2026", function() {});
        }};
    },

    reloadUiAction: function() {
        return {label: "Reload UI", run: function(button, node) {
            hotReload.reloadUiAsked = true;
            hotReload.post("reload-ui", button, node, hotReload.reloadingUiLabel, function(answer) {
                if (answer && answer.waiting) {
                    hotReload.addLine(node, "Reload UI waits: " + answer.waiting + "; it follows when that has finished");
                }
            });
        }};
    },

    // The host cannot rebuild its page (SD.Next, --nowebui): the buttons that asked stop saying
    // "Reloading UI…", and the page stops waiting for a new app.
    reloadUiRefused: function() {
        hotReload.reloadUiAsked = false;
        Array.prototype.forEach.call(document.querySelectorAll("#hot-reload-toasts .hot-reload-action"), function(button) {
            if (button.disabled && button.textContent === hotReload.reloadingUiLabel) button.textContent = "Restart needed";
        });
    },

    reloadPageAction: function() {
        return {label: "Reload page", run: function() {
            hotReload.reloadPage(null);
        }};
    },

    post: function(name, button, node, busyLabel, then) {
        var label = button.textContent;
        button.disabled = true;
        button.textContent = busyLabel;
        hotReload.request(name, {method: "POST"}).then(function(response) {
            if (!response || !response.ok) throw new Error("HTTP " + (response ? response.status : "error"));
            return response.json();
        }).then(then).catch(function(error) {
            button.disabled = false;
            button.textContent = label;
            hotReload.addLine(node, label + " failed: " + error.message);
        });
    },

    addLine: function(node, text) {
        node.insertBefore(hotReload.element("div", "hot-reload-toast-line", text), node.querySelector(".hot-reload-toast-actions"));
    },

    // -- toasts -------------------------------------------------------------------------------
    // The box holds a bar (how many are folded away, Dismiss all) above the stack of toasts.
    container: function() {
        var box = document.getElementById("hot-reload-toasts");
        if (box) return box;
        box = hotReload.element("div", "hot-reload-toasts");
        box.id = "hot-reload-toasts";
        box.setAttribute("aria-live", "polite");
        var bar = hotReload.element("div", "hot-reload-bar");
        var more = hotReload.button("hot-reload-more", "", function() {
            box.classList.toggle("hot-reload-expanded");
            hotReload.layout();
        });
        var all = hotReload.button("hot-reload-dismiss-all", "Dismiss all", function() {
            Array.prototype.slice.call(hotReload.stack().children).forEach(hotReload.dismiss);
        });
        bar.appendChild(more);
        bar.appendChild(all);
        box.appendChild(bar);
        box.appendChild(hotReload.element("div", "hot-reload-stack"));
        document.body.appendChild(box);
        hotReload.layout();
        return box;
    },

    // The page is dark with no "dark" class of gradio's (SD.Next's Modern UI): by the background it
    // shows, the first one set of its container, body and root.
    darkWithoutClass: function() {
        if (document.body.classList.contains("dark")) return false;
        var nodes = [document.querySelector(".gradio-container"), document.body, document.documentElement];
        for (var index = 0; index < nodes.length; index++) {
            var colour = nodes[index] ? /rgba?\(([^)]+)\)/.exec(getComputedStyle(nodes[index]).backgroundColor) : null;
            var parts = colour ? colour[1].split(",").map(parseFloat) : [];
            if (parts.length < 3 || parts[3] === 0) continue;
            return 0.2126 * parts[0] + 0.7152 * parts[1] + 0.0722 * parts[2] < 0.4 * 255;
        }
        return false;
    },

    stack: function() {
        return hotReload.container().querySelector(".hot-reload-stack");
    },

    element: function(tag, className, text) {
        var node = document.createElement(tag);
        if (className) node.className = className;
        if (text !== undefined) node.textContent = text;
        return node;
    },

    button: function(className, text, onClick) {
        var node = hotReload.element("button", className, text);
        node.type = "button";
        node.addEventListener("click", onClick);
        return node;
    },

    show: function(toast) {
        if (toast.groupable) {
            var merged = hotReload.joinBurst(toast);
            if (merged) return merged;
        }
        var node = hotReload.render(toast);
        hotReload.container().classList.toggle("hot-reload-dark-page", hotReload.darkWithoutClass());
        hotReload.stack().appendChild(node);
        if (toast.groupable) hotReload.burst = {node: node, toasts: [toast], time: Date.now()};
        var stays = toast.kind === "error" || toast.kind === "running" || toast.kind === "waiting" ||
            (toast.actions || []).length > 0;
        if (!stays) hotReload.expireLater(node);
        hotReload.trim();
        hotReload.layout();
        return node;
    },

    // Saves of several files at once (a git checkout, a search and replace) are one toast.
    joinBurst: function(toast) {
        var burst = hotReload.burst;
        if (!burst || !burst.node.parentNode || Date.now() - burst.time > hotReload.burstMs) return null;
        if (burst.toasts.some(function(shown) { return shown.file === toast.file; })) return null;
        burst.toasts.push(toast);
        burst.time = Date.now();
        var old = burst.node;
        hotReload.burst = null;
        var node = hotReload.show(hotReload.groupOf(burst.toasts));
        old.parentNode.replaceChild(node, old); // where the burst began, not at the end
        hotReload.burst = {node: node, toasts: burst.toasts, time: burst.time};
        hotReload.layout();
        return node;
    },

    groupOf: function(toasts) {
        var lines = toasts.slice(0, hotReload.groupLines).map(function(toast) {
            var first = toast.lines && toast.lines[0];
            return toast.title + (typeof first === "string" ? " \u2014 " + first : "");
        });
        if (toasts.length > hotReload.groupLines) {
            lines.push("and " + (toasts.length - hotReload.groupLines) + " more (the Hot Reload tab lists them)");
        }
        var notes = [];
        toasts.forEach(function(toast) {
            (toast.notes || []).forEach(function(note) {
                notes.push(toast.file + ": " + note);
            });
        });
        return {kind: "success", title: toasts.length + " files changed", lines: lines, notes: notes.slice(0, 6)};
    },

    render: function(toast) {
        var node = hotReload.element("div", "hot-reload-toast hot-reload-" + toast.kind);
        node.setAttribute("role", toast.kind === "error" ? "alert" : "status");
        node.hotReloadFile = toast.file || "";
        node.hotReloadSeq = toast.seq || 0;

        var head = hotReload.element("div", "hot-reload-toast-head");
        head.appendChild(hotReload.element("span", "hot-reload-toast-title", toast.title));
        if (toast.meta) head.appendChild(hotReload.element("span", "hot-reload-toast-meta", toast.meta));
        var close = hotReload.button("hot-reload-toast-close", "\u00d7", function() {
            hotReload.dismiss(node);
        });
        close.title = "Dismiss";
        close.setAttribute("aria-label", "Dismiss");
        head.appendChild(close);
        node.appendChild(head);

        (toast.lines || []).forEach(function(line) {
            node.appendChild(typeof line === "string" ? hotReload.element("div", "hot-reload-toast-line", line)
                : hotReload.location(line));
        });
        (toast.notes || []).forEach(function(note) {
            node.appendChild(hotReload.element("div", "hot-reload-toast-note", note));
        });
        if (toast.traceback) node.appendChild(hotReload.traceback(toast.traceback));
        if ((toast.actions || []).length) {
            var actions = hotReload.element("div", "hot-reload-toast-actions");
            toast.actions.forEach(function(action) {
                var button = hotReload.button("hot-reload-action", action.label, function() {
                    action.run(button, node);
                });
                actions.appendChild(button);
            });
            node.appendChild(actions);
        }
        return node;
    },

    // `file:line`, a link into the user's editor when the setting gives its URL
    // (e.g. vscode://file/{path}:{line}).
    location: function(where) {
        var line = hotReload.element("div", "hot-reload-toast-line hot-reload-toast-location");
        var text = where.file + ":" + where.line;
        var href = hotReload.editorHref(where.path, where.line);
        if (!href) {
            line.textContent = text;
            return line;
        }
        var link = hotReload.element("a", "hot-reload-editor-link", text);
        link.href = href;
        link.title = "Open in your editor";
        line.appendChild(link);
        return line;
    },

    editorHref: function(path, lineNumber) {
        var template = String(hotReload.option("hot_reload_editor_link", "") || "").trim();
        if (!template || !path) return "";
        var scheme = /^([a-z][a-z0-9+.-]*):/i.exec(template);
        // The setting is the user's, but a link that runs script is never what it meant.
        if (!scheme || /^(javascript|data|vbscript)$/i.test(scheme[1])) return "";
        var forward = String(path).replace(/\\/g, "/");
        return template.split("{path}").join(encodeURI(forward)).split("{line}").join(String(lineNumber || 1));
    },

    // The user's frames first: the reloader's own (a failing replace() goes through several) are
    // behind a button, as they say nothing about the user's code.
    ownFramePattern: /^ {2}File "[^"]*[\\/]hotreload_lib[\\/](?:[a-z_]+[\\/])?[^"\\/]+\.py", line \d+/,

    traceback: function(text) {
        var kept = [];
        var hidden = 0;
        var skipping = false;
        text.split("\n").forEach(function(line) {
            if (hotReload.ownFramePattern.test(line)) {
                hidden += 1;
                skipping = true;
                return;
            }
            if (skipping && line.indexOf("    ") === 0) return; // that frame's source line and markers
            skipping = false;
            kept.push(line);
        });
        var details = hotReload.element("details", "hot-reload-toast-details");
        details.appendChild(hotReload.element("summary", "", "Traceback"));
        var pre = hotReload.element("pre", "hot-reload-toast-traceback", kept.join("\n"));
        details.appendChild(pre);
        if (hidden) {
            var full = false;
            var toggle = hotReload.button("hot-reload-frames", "", function() {
                full = !full;
                pre.textContent = full ? text : kept.join("\n");
                toggle.textContent = full ? "Hide hot reload's own frames" : hotReload.framesLabel(hidden);
            });
            toggle.textContent = hotReload.framesLabel(hidden);
            details.appendChild(toggle);
        }
        return details;
    },

    framesLabel: function(count) {
        return "Show hot reload's own frames (" + count + ")";
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
        if (!node.parentNode) return;
        node.parentNode.removeChild(node);
        hotReload.layout();
    },

    resolve: function(file, selector) {
        if (!file) return;
        var settled = hotReload.stack().querySelectorAll(selector || ".hot-reload-error, .hot-reload-running, .hot-reload-waiting");
        Array.prototype.forEach.call(settled, function(node) {
            if (node.hotReloadFile === file) hotReload.dismiss(node);
        });
    },

    // At most maxKept: the oldest short-lived toasts go first, errors (and the notice of missed
    // events, which a burst of catching up would push out at once) only when nothing else is left.
    trim: function() {
        var stack = hotReload.stack();
        while (stack.children.length > hotReload.maxKept) {
            hotReload.dismiss(stack.querySelector(".hot-reload-toast:not(.hot-reload-error):not(.hot-reload-missed)") ||
                stack.firstElementChild);
        }
    },

    // The newest maxVisible show; older ones fold behind "+N more" unless the list is expanded.
    layout: function() {
        var box = document.getElementById("hot-reload-toasts");
        if (!box) return;
        var toasts = box.querySelector(".hot-reload-stack").children;
        var folded = Math.max(0, toasts.length - hotReload.maxVisible);
        var expanded = box.classList.contains("hot-reload-expanded") && folded > 0;
        if (!folded) box.classList.remove("hot-reload-expanded");
        Array.prototype.forEach.call(toasts, function(node, index) {
            node.classList.toggle("hot-reload-folded", !expanded && index < folded);
        });
        var more = box.querySelector(".hot-reload-more");
        more.hidden = folded === 0;
        more.textContent = expanded ? "Show fewer" : "+" + folded + " more";
        box.querySelector(".hot-reload-bar").hidden = toasts.length < 2;
    },

    // -- the Hot Reload tab follows the events: at once while it shows, else when it comes into view
    refreshPanelSoon: function() {
        clearTimeout(hotReload.refreshTimer);
        hotReload.refreshTimer = setTimeout(function() {
            var button = hotReload.root().querySelector("#hot_reload_refresh");
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

    // -- what the user typed, kept across the page reloads we cause ----------------------------
    // gradio 3 cannot show a rebuilt UI without a page load, and a page load loses every value
    // typed. Before each reload we cause (into the app of a Reload UI, Reload page, a UI the server
    // rebuilt) the inputs the user changed, the selected tabs and the scroll go to sessionStorage
    // (this browser tab's only); the page that loads next puts them back, once. A page load of the
    // user's own (F5) finds nothing saved. The values go in as a user's would, through the
    // controls' events, so that gradio has them and sends them with the next event.
    stateKey: "hot-reload-state",
    stateVersion: 1,
    stateMaxAgeMs: 10 * 60 * 1000,
    stateMaxChars: 2000000, // of the ~5 M characters sessionStorage holds per site, the webui needs some
    loadedValues: {}, // key -> JSON of each input's value as the page was built
    restoring: null, // settled when what was kept across the reload is back
    rebuilt: null, // the messages and notes of a burst of rebuilt-UI events while it gathers
    rebuiltMs: 150,

    root: function() {
        return typeof gradioApp === "function" ? gradioApp() : document;
    },

    // The elements matching `selector` inside gradio component `block`, not inside one nested in it.
    own: function(block, selector) {
        return Array.prototype.filter.call(block.querySelectorAll(selector), function(node) {
            return node.closest(".block[id]") === block;
        });
    },

    // gradio 3.41 and 4.40 render these components alike; any other one (an image, a table, an
    // output the user cannot edit, a component hidden by its code) is not the user's to keep.
    kindOf: function(block) {
        var control = hotReload.own(block, "input, textarea")[0];
        if (!control || control.disabled || block.classList.contains("hidden")) return "";
        if (control.closest(".wrap-inner")) return "dropdown";
        if (control.closest("[data-testid=checkbox-group]")) return "checkboxgroup";
        if (control.type === "range" || hotReload.own(block, "input[type=range]").length) return "slider";
        if (["radio", "checkbox", "color", "number"].indexOf(control.type) >= 0) return control.type;
        if (control.getAttribute("data-testid") === "textbox" && control.type !== "password") return "textbox";
        return "";
    },

    // A component's key: its elem_id, else its label path (the labels of the tabs it is in, then
    // its own), and its index among components of the same key. Not gradio's component-N ids,
    // which every build numbers anew.
    // `within`: a tab whose own label is not part of the path (a tab re-rendered in place may be
    // renamed; what is inside it keeps its key).
    keyOf: function(node, label, counts, within) {
        var id = node.id && !/^component-\d+$/.test(node.id) ? "#" + node.id : "";
        var base = id || hotReload.tabPath(node, within).concat([label]).join(" \u203a ");
        counts[base] = (counts[base] || 0) + 1;
        return counts[base] > 1 ? base + " [" + counts[base] + "]" : base;
    },

    tabPath: function(node, within) {
        var path = [];
        for (var item = node.closest(".tabitem"); item && item !== within; item = item.parentNode.closest(".tabitem")) {
            var items = Array.prototype.filter.call(item.parentNode.children, function(child) {
                return child.classList.contains("tabitem");
            });
            var button = hotReload.tabButtons(item.parentNode)[items.indexOf(item)];
            path.unshift(button ? button.textContent.trim() : "");
        }
        return path;
    },

    tabButtons: function(tabs) {
        return Array.prototype.slice.call(tabs.querySelectorAll(":scope > .tab-nav > button"));
    },

    labelOf: function(block, kind) {
        var info = hotReload.own(block, "[data-testid=block-info]")[0];
        if (info) return info.textContent.trim();
        var box = kind === "checkbox" ? hotReload.own(block, "input[type=checkbox]")[0] : null;
        return box ? hotReload.optionLabel(box) : kind;
    },

    optionLabel: function(input) {
        return (input.closest("label") || input.parentNode).textContent.trim();
    },

    // key -> {kind, block} of every input component of the page, or of the tab `within`.
    inputs: function(within) {
        var found = {};
        var counts = {};
        Array.prototype.forEach.call((within || hotReload.root()).querySelectorAll(".block[id]"), function(block) {
            var kind = hotReload.kindOf(block);
            if (kind) found[hotReload.keyOf(block, hotReload.labelOf(block, kind), counts, within)] = {kind: kind, block: block};
        });
        return found;
    },

    // key -> {nav buttons} of every Tabs of the page, or of the tab `within`.
    tabSets: function(within) {
        var found = {};
        var counts = {};
        Array.prototype.forEach.call((within || hotReload.root()).querySelectorAll(".tabs"), function(tabs) {
            found[hotReload.keyOf(tabs, "tabs", counts, within)] = hotReload.tabButtons(tabs);
        });
        return found;
    },

    // key -> the selected tab of each Tabs in `sets`: by its text, and by its place for a tab a
    // rebuild renamed (the set of tabs unchanged).
    selectedTabs: function(sets) {
        var tabs = {};
        Object.keys(sets).forEach(function(key) {
            var selected = sets[key].filter(function(button) { return button.classList.contains("selected"); })[0];
            if (selected) tabs[key] = {text: selected.textContent.trim(), index: sets[key].indexOf(selected),
                count: sets[key].length};
        });
        return tabs;
    },

    selectTabs: function(saved, sets) {
        Object.keys(saved).forEach(function(key) {
            var buttons = sets[key] || [];
            var button = buttons.filter(function(each) { return each.textContent.trim() === saved[key].text; })[0] ||
                (buttons.length === saved[key].count ? buttons[saved[key].index] : undefined);
            if (button && !button.classList.contains("selected")) button.click();
        });
    },

    valueOf: function(input) {
        var first = function(selector) {
            return hotReload.own(input.block, selector)[0];
        };
        var checked = function() {
            return hotReload.own(input.block, "input:checked").map(hotReload.optionLabel);
        };
        switch (input.kind) {
        case "dropdown": // the labels chosen: a multiselect's tokens, or the one a dropdown shows
            var tokens = hotReload.own(input.block, ".token > span");
            if (tokens.length) return tokens.map(function(token) { return token.textContent.trim(); });
            var shown = first(".wrap-inner input").value;
            return shown ? [shown] : [];
        case "slider": return first("input[type=range]").value;
        case "checkboxgroup": return checked();
        case "radio": return checked()[0] || null;
        case "checkbox": return first("input[type=checkbox]").checked;
        default: return first("input, textarea").value;
        }
    },

    readValues: function() {
        var values = {};
        var inputs = hotReload.inputs();
        Object.keys(inputs).forEach(function(key) {
            values[key] = JSON.stringify(hotReload.valueOf(inputs[key]));
        });
        return values;
    },

    // Puts `value` into the component as a user would. False (or a promise of false) when the
    // control does not take it: a choice that is gone, a number outside a slider's new range.
    put: function(input, value) {
        var own = function(selector) {
            return hotReload.own(input.block, selector);
        };
        var byLabel = function(label) {
            return own("input").filter(function(option) { return hotReload.optionLabel(option) === label; })[0];
        };
        switch (input.kind) {
        case "dropdown": return hotReload.putDropdown(input.block, value);
        case "checkbox":
            var box = own("input[type=checkbox]")[0];
            if (box.checked !== Boolean(value)) box.click();
            return true;
        case "radio":
            var choice = byLabel(value);
            if (choice && !choice.checked) choice.click();
            return Boolean(choice);
        case "checkboxgroup":
            if (!Array.isArray(value) || !value.every(byLabel)) return false;
            own("input[type=checkbox]").forEach(function(option) {
                if (option.checked !== (value.indexOf(hotReload.optionLabel(option)) >= 0)) option.click();
            });
            return true;
        default: // a text, a number, a slider, a colour: what A1111's updateInput() does
            var field = own(input.kind === "slider" ? "input[type=range]" : "input, textarea")[0];
            var before = field.value;
            field.value = value;
            if (field.value !== String(value)) {
                field.value = before;
                return false;
            }
            field.dispatchEvent(new Event("input", {bubbles: true}));
            return true;
        }
    },

    // A dropdown is a widget of gradio's: its list opens on focus, an option is chosen on
    // mousedown (3.41 and 4.40 alike), and a multiselect's "Clear" empties it.
    putDropdown: function(block, labels) {
        if (!Array.isArray(labels)) return false;
        var field = hotReload.own(block, ".wrap-inner input")[0];
        var tick = function() {
            return new Promise(function(resolve) { setTimeout(resolve, 0); });
        };
        var clear = hotReload.own(block, ".token").length ? hotReload.own(block, ".remove-all")[0] : null;
        var steps = Promise.resolve(true);
        if (clear) {
            clear.click();
            steps = tick().then(function() { return true; });
        }
        labels.forEach(function(label) {
            steps = steps.then(function(ok) {
                field.dispatchEvent(new Event("focus"));
                return tick().then(function() {
                    var option = hotReload.own(block, ".options li").filter(function(item) {
                        return item.textContent.replace(/^\s*\u2713/, "").trim() === label;
                    })[0];
                    if (!option) return false;
                    option.dispatchEvent(new MouseEvent("mousedown", {bubbles: true, cancelable: true}));
                    return tick().then(function() { return ok; });
                });
            });
        });
        return steps.then(function(ok) {
            field.dispatchEvent(new Event("blur"));
            return ok;
        });
    },

    // Saves what to put back after the page reloads: the inputs whose value is not the one the
    // page was built with (an input the user left alone takes the default of the next build), the
    // selected tabs, the scroll; `notice`, a toast ({title, lines}) for the reloaded page to show.
    // key -> {kind, value} of each of `inputs` whose value is not the one the page was built with;
    // `pageKey(key)` is its key among loadedValues.
    changedInputs: function(inputs, pageKey) {
        var changed = {};
        Object.keys(inputs).forEach(function(key) {
            var value = hotReload.valueOf(inputs[key]);
            var before = hotReload.loadedValues[pageKey(key)];
            if (before !== undefined && before !== JSON.stringify(value)) changed[key] = {kind: inputs[key].kind, value: value};
        });
        return changed;
    },

    keepState: function(notice) {
        var changed = hotReload.changedInputs(hotReload.inputs(), function(key) { return key; });
        var tabs = hotReload.selectedTabs(hotReload.tabSets());
        var state = {version: hotReload.stateVersion, path: window.location.pathname, time: Date.now(),
            notice: notice || null, inputs: changed, tabs: tabs, scroll: [window.scrollX, window.scrollY]};
        var text = JSON.stringify(state);
        // Over the bound, the largest values go first (said in the console).
        var largest = Object.keys(changed).sort(function(a, b) {
            return JSON.stringify(changed[b]).length - JSON.stringify(changed[a]).length;
        });
        while (text.length > hotReload.stateMaxChars && largest.length) {
            var dropped = largest.shift();
            console.warn("[Hot Reload] too large to keep across the reload: " + dropped);
            delete changed[dropped];
            text = JSON.stringify(state);
        }
        try {
            window.sessionStorage.setItem(hotReload.stateKey, text);
        } catch (error) {
            console.warn("[Hot Reload] the page's values cannot be kept across the reload: " + error);
        }
    },

    reloadPage: function(notice) {
        try {
            hotReload.keepState(notice);
        } catch (error) {
            console.warn("[Hot Reload] the page's values cannot be kept across the reload: " + error);
        }
        window.location.reload();
    },

    // The saved state, taken (one use): null unless saved for this page in the last minutes.
    takeState: function() {
        var text = null;
        try {
            text = window.sessionStorage.getItem(hotReload.stateKey);
            window.sessionStorage.removeItem(hotReload.stateKey);
        } catch (error) {
            return null;
        }
        var state = text === null ? null : hotReload.parse(text);
        if (!state || state.version !== hotReload.stateVersion || state.path !== window.location.pathname) return null;
        var age = Date.now() - state.time;
        return age >= 0 && age <= hotReload.stateMaxAgeMs ? state : null;
    },

    // At the page's start: what each input holds as built, then what was kept, if anything, put
    // back. Settled when every value is back. What the new page no longer has, or does not take,
    // is said in the console only.
    restoreState: function() {
        try {
            hotReload.loadedValues = hotReload.readValues();
            var state = hotReload.takeState();
            return state ? hotReload.putBack(state) : Promise.resolve();
        } catch (error) {
            console.warn("[Hot Reload] what was kept across the reload cannot be put back: " + error);
            return Promise.resolve();
        }
    },

    putBack: function(state) {
        hotReload.selectTabs(state.tabs || {}, hotReload.tabSets());
        return hotReload.putInputs(state.inputs || {}, hotReload.inputs()).then(function(skipped) {
            if (Array.isArray(state.scroll)) window.scrollTo(state.scroll[0], state.scroll[1]);
            if (skipped.length) console.info("[Hot Reload] not restored after the reload: " + skipped.join(", "));
            var notice = state.notice;
            if (notice && typeof notice.title === "string") {
                hotReload.show({kind: "info", title: notice.title, lines: (notice.lines || []).map(String)});
            }
        });
    },

    // Puts each saved value ({key: {kind, value}}) into the input of its key in `inputs`, one after
    // the other (a dropdown takes several steps). Settles with what was not put back, and why.
    putInputs: function(saved, inputs) {
        var skipped = [];
        var steps = Promise.resolve();
        Object.keys(saved).forEach(function(key) {
            steps = steps.then(function() {
                var input = inputs[key];
                if (!input || input.kind !== saved[key].kind) return skipped.push(key + " (no longer on the page)");
                return Promise.resolve(hotReload.put(input, saved[key].value)).then(function(ok) {
                    if (!ok) skipped.push(key + " (does not take " + JSON.stringify(saved[key].value) + ")");
                }, function(error) {
                    skipped.push(key + " (" + error + ")");
                });
            });
        });
        return steps.then(function() { return skipped; });
    },

    // Which build of the UI this page shows: gradio embeds the config it served in the page, and a
    // rebuild numbers it (0: the one the webui started with). No config to read: never stale.
    pageVersion: function() {
        var config = window.gradio_config;
        if (!config) return Infinity;
        return typeof config.hot_reload_ui === "number" ? config.hot_reload_ui : 0;
    },

    rebuiltTitle: function(messages) {
        return "UI rebuilt" + (messages[0] ? ": " + messages[0] : "");
    },

    // A rebuilt tab that this page can re-render in place (gradio 4) is at once, after any render
    // under way. Rebuilt-UI events that need a page load, in a burst (a save of several files),
    // are one reload; their notes (a default that ui-config.json keeps) go along to its toast.
    rebuiltSoon: function(event) {
        var parts = Array.isArray(event.rerender) ? event.rerender : [];
        if (parts.length && hotReload.rebuilt === null) {
            hotReload.renderSoon(event, parts);
            return;
        }
        if (hotReload.rebuilt === null) {
            hotReload.rebuilt = {messages: [], notes: []};
            setTimeout(function() {
                var rebuilt = hotReload.rebuilt;
                hotReload.reloadPage({title: hotReload.rebuiltTitle(rebuilt.messages),
                    lines: rebuilt.messages.slice(1).concat(rebuilt.notes)});
            }, hotReload.rebuiltMs);
        }
        [[hotReload.rebuilt.messages, event.message ? [event.message] : []],
         [hotReload.rebuilt.notes, event.notes || []]].forEach(function(pair) {
            pair[1].forEach(function(text) {
                if (pair[0].indexOf(text) < 0) pair[0].push(String(text));
            });
        });
    },

    renderSoon: function(event, parts) {
        hotReload.rendering = hotReload.rendering.then(function() {
            return hotReload.renderInPlace(parts, typeof event.ui === "number" ? event.ui : 0);
        }).then(function() {
            hotReload.show({kind: "info", file: event.file || "", title: hotReload.rebuiltTitle([event.message]),
                lines: (event.notes || []).map(String)});
        }, function(why) {
            console.info("[Hot Reload] the page reloads instead: " + why);
            hotReload.rebuiltSoon({message: event.message, notes: event.notes});
        });
    },

    // -- a tab rebuilt on the server, re-rendered in this page (gradio 4) ---------------------
    // Each tab has an event that only this page fires (page/rerender.py): its answer carries the
    // tab as the server has it now, and gradio swaps the tab's subtree in place. Nothing else on
    // the page is touched; in the tab, what the user changed is put back where the component
    // still exists. Settled once the new tab is in place; refused (then the page reloads, keeping
    // what the user typed) when the page has no such event for a tab or the answer does not come.
    renderEvent: "hot_reload_render",
    renderMs: 15000,
    rendering: Promise.resolve(),

    renderInPlace: function(elemIds, ui) {
        var config = window.gradio_config || {};
        var parts = [];
        for (var index = 0; index < elemIds.length; index++) {
            var part = hotReload.renderablePart(config, elemIds[index]);
            if (!part) return Promise.reject("this page has no in-place render for " + elemIds[index]);
            // The answer to an earlier render may have brought this build already.
            if (hotReload.buildOf(part.element) < ui) parts.push(part);
        }
        var pageKeys = new Map();
        var everyInput = hotReload.inputs();
        Object.keys(everyInput).forEach(function(key) { pageKeys.set(everyInput[key].block, key); });
        parts.forEach(function(part) {
            var inputs = hotReload.inputs(part.element);
            part.tabs = hotReload.selectedTabs(hotReload.tabSets(part.element));
            part.changed = hotReload.changedInputs(inputs, function(key) { return pageKeys.get(inputs[key].block); });
            part.element.dispatchEvent(new CustomEvent("gradio", {bubbles: true,
                detail: {id: part.id, event: hotReload.renderEvent, data: null}}));
        });
        return Promise.all(parts.map(function(part) { return hotReload.rendered(part, ui); })).then(function() {
            if (config.hot_reload_ui === undefined || ui > config.hot_reload_ui) config.hot_reload_ui = ui;
            var every = hotReload.inputs();
            var steps = Promise.resolve([]);
            parts.forEach(function(part) {
                var element = hotReload.partElement(part.elemId) || part.element;
                Object.keys(every).forEach(function(key) { // the new tab's values as built
                    if (element.contains(every[key].block)) {
                        hotReload.loadedValues[key] = JSON.stringify(hotReload.valueOf(every[key]));
                    }
                });
                hotReload.selectTabs(part.tabs, hotReload.tabSets(element));
                steps = steps.then(function(skipped) {
                    return hotReload.putInputs(part.changed, hotReload.inputs(element)).then(function(more) {
                        return skipped.concat(more);
                    });
                });
            });
            return steps.then(function(skipped) {
                if (skipped.length) console.info("[Hot Reload] not restored after the rebuild: " + skipped.join(", "));
            });
        });
    },

    partElement: function(elemId) {
        return hotReload.root().querySelector("#" + CSS.escape(elemId));
    },

    // The page build a re-rendered tab shows (page/rerender.py names it in the tab's classes); 0 for
    // one never re-rendered.
    buildOf: function(element) {
        var found = /(?:^|\s)hot-reload-build-(\d+)(?:\s|$)/.exec(element ? element.className : "");
        return found ? Number(found[1]) : 0;
    },

    // {id, elemId, element} of the tab `elemId` when this page can re-render it: the page's
    // config has the tab's render event (a page loaded before the server added it has not).
    renderablePart: function(config, elemId) {
        var component = (config.components || []).filter(function(each) {
            return each.props && each.props.elem_id === elemId;
        })[0];
        var element = component ? hotReload.partElement(elemId) : null;
        var fires = component && (config.dependencies || []).some(function(dependency) {
            return (dependency.targets || []).some(function(target) {
                return Array.isArray(target) && target[0] === component.id && target[1] === hotReload.renderEvent;
            });
        });
        return fires && element ? {id: component.id, elemId: elemId, element: element} : null;
    },

    // Settles when the tab shows page build `ui` or a later one: gradio puts the answer's classes
    // and components in place in one update.
    rendered: function(part, ui) {
        return new Promise(function(resolve, reject) {
            var watcher = new MutationObserver(function() {
                if (hotReload.buildOf(hotReload.partElement(part.elemId)) >= ui) finish(null);
            });
            var timer = setTimeout(function() {
                finish("no answer in " + hotReload.renderMs / 1000 + " s");
            }, hotReload.renderMs);
            function finish(why) {
                watcher.disconnect();
                clearTimeout(timer);
                if (why) reject(why);
                else setTimeout(resolve, 0);
            }
            watcher.observe(part.element.parentNode, {childList: true, subtree: true, attributes: true,
                attributeFilter: ["class"]});
        });
    },
};

// SD.Next: onUiReady comes after window.opts and window.subpath are known.
if (typeof onUiReady === "function") {
    onUiReady(hotReload.start);
} else {
    onUiLoaded(hotReload.start);
}
