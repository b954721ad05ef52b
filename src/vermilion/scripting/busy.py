"""Placeholder (written next)."""


class BusyServer:
    def __init__(self, engine, caller):
        pass

    def poll(self):
        pass

    def finish(self):
        pass
