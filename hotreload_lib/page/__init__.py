"""The page: the routes and event stream on the webui's app, the apply call, the Hot Reload tab, and
the parts of a running gradio page rebuilt in place."""
