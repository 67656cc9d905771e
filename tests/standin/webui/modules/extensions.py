"""Stand-in for modules/extensions.py: the host's list of installed extensions (name = folder name)."""


class Extension:
    def __init__(self, name, path, enabled=True, is_builtin=False):
        self.name = name
        self.path = path
        self.enabled = enabled
        self.is_builtin = is_builtin


extensions = []
