"""oom-score-adj: how readily Linux's OOM killer picks this process (Redis's setOOMScoreAdj).

With ``oom-score-adj yes``/``relative`` the process's ``/proc/self/oom_score_adj`` is the
value it had before the server first changed it plus the class's entry of
``oom-score-adj-values`` (the server, a replica, a background child); ``absolute`` uses the
entry alone; ``no`` puts the original value back, and leaves the file alone if the server
never changed it. Results are clamped to the kernel's -1000..1000. Only the standalone
server adjusts itself: an embedded server shares its process with the application.
"""
from __future__ import annotations

import logging

from ..config import ApplyError

log = logging.getLogger("vermilion")

CLASS_SERVER, CLASS_REPLICA, CLASS_CHILD = 0, 1, 2
_PATH = "/proc/self/oom_score_adj"

_config = None
_base: int | None = None        # the value before the server changed it (None: unchanged)
_role_class = CLASS_SERVER      # the server's class now: a replica is killed before a master


def apply(process_class: int | None = None) -> bool:
    """Write this process's score for its class (default: the server's role now); False
    (logged) if it cannot be written."""
    global _base
    if _config is None:
        return True
    if process_class is None:
        process_class = _role_class
    mode = _config["oom-score-adj"]
    try:
        if mode != "no":
            if _base is None:
                with open(_PATH) as fh:
                    _base = int(fh.read().strip() or 0)
            value = _config["oom-score-adj-values"][process_class]
            if mode != "absolute":
                value += _base
            value = max(-1000, min(1000, value))
        elif _base is not None:
            value, _base = _base, None
        else:
            return True
        with open(_PATH, "w") as fh:
            fh.write("%d\n" % value)
    except (OSError, ValueError) as err:
        log.warning("Unable to write oom_score_adj: %s", getattr(err, "strerror", None) or err)
        return False
    return True


def _changed(changed: set) -> None:
    if "oom-score-adj" in changed or "oom-score-adj-values" in changed:
        if not apply():
            raise ApplyError("oom-score-adj",
                             "Failed to set current oom_score_adj. Check server logs.")


def set_replica(is_replica: bool) -> None:
    """REPLICAOF host port / NO ONE: the server moves to the replica's class or back."""
    global _role_class
    _role_class = CLASS_REPLICA if is_replica else CLASS_SERVER
    apply()


def install(config) -> None:
    """The standalone server: adjust now and whenever the directives change."""
    global _config
    _config = config
    config.listeners.append(_changed)
    apply()


def in_child() -> None:
    """A forked background child (BGSAVE, BGREWRITEAOF) takes the child's class."""
    apply(CLASS_CHILD)
