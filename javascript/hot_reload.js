// sd-webui-hot-reload: reload toasts on the webui page. One global: hotReload.
var hotReload = {
    containerId: "hot-reload-toasts",

    setup: function() {
        if (document.getElementById(hotReload.containerId)) return;
        var container = document.createElement("div");
        container.id = hotReload.containerId;
        container.className = "hot-reload-toasts";
        document.body.appendChild(container);
    },
};

onUiLoaded(hotReload.setup);
