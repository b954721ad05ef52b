"""types/acl.py alone: rule parsing, descriptions and checks on the real command table."""
from __future__ import annotations

import pytest

from vermilion import commands  # noqa: F401  (fills the table)
from vermilion.engine.table import COMMANDS
from vermilion.types import acl

CAT = acl.Catalog(list(COMMANDS.values()))
GET, SET, CONFIG = COMMANDS["get"], COMMANDS["set"], COMMANDS["config"]
CONFIG_GET = CONFIG.subcommands[b"get"]


def user(*rules: str) -> acl.User:
    return acl.set_user(acl.User("u"), list(rules), CAT, False)


def test_descriptions_start_from_all_or_nothing():
    assert user().root.describe_commands(CAT) == "-@all"
    assert user("+@all").root.describe_commands(CAT) == "+@all"
    assert user("+@all", "-get").root.describe_commands(CAT) == "+@all -get"
    assert user("+@read").root.describe_commands(CAT) == "-@all +@read"
    # A container rule covers its subcommands; a subcommand rule only itself.
    assert user("+config").root.describe_commands(CAT) == "-@all +config"
    assert user("+config|get").root.describe_commands(CAT) == "-@all +config|get"


def test_description_round_trips():
    for rules in (["+@all", "-@dangerous", "+config|get"], ["+@hash", "-hget", "+get"],
                  ["-@all", "+select|0", "+@write"]):
        first = user(*rules)
        again = user(*first.root.describe_commands(CAT).split())
        assert again.root.allowed == first.root.allowed, rules
        assert again.root.firstargs == first.root.firstargs


def test_allowed_commands_and_first_args():
    u = user("+get", "+select|1", "+config|get")
    assert u.root.allows_command(CAT, GET, [b"get", b"k"])
    assert not u.root.allows_command(CAT, SET, [b"set", b"k", b"v"])
    select = COMMANDS["select"]
    assert u.root.allows_command(CAT, select, [b"select", b"1"])
    assert not u.root.allows_command(CAT, select, [b"select", b"2"])
    assert u.root.allows_command(CAT, CONFIG_GET, [b"config", b"get", b"x"])
    assert not u.root.allows_command(CAT, CONFIG.subcommands[b"set"], [b"config", b"set", b"x", b"y"])


def test_key_permissions_need_every_flag():
    u = user("%R~r*", "%W~w*", "~rw*")
    sel = u.root
    assert sel.allows_key(b"r1", acl.READ) and not sel.allows_key(b"r1", acl.WRITE)
    assert sel.allows_key(b"w1", acl.WRITE) and not sel.allows_key(b"w1", acl.READ)
    assert sel.allows_key(b"rw1", acl.READ | acl.WRITE)
    assert sel.allows_key(b"w1", 0)           # EXISTS/TYPE need neither: any matching pattern
    assert not sel.allows_key(b"zzz", 0)
    assert sel.describe_keys() == "%R~r* %W~w* ~rw*"


def test_channels_literal_for_patterns():
    sel = user("&news.*").root
    assert sel.allows_channel(b"news.1", False)
    assert sel.allows_channel(b"news.*", True)
    assert not sel.allows_channel(b"news.a*", True)


def test_staged_changes_are_all_or_nothing():
    u = user("on", ">pw", "~k")
    with pytest.raises(acl.RuleError) as err:
        acl.set_user(u, ["~x", "+nosuch"], CAT, False)
    assert str(err.value) == ("Error in ACL SETUSER modifier '+nosuch': "
                              "Unknown command or category name in ACL")
    assert u.root.describe_keys() == "~k"
    with pytest.raises(acl.RuleError) as err:
        acl.set_user(u, ["(+get", "~a"], CAT, False)
    assert "Unmatched parenthesis in acl selector starting at '(+get'" in str(err.value)


def test_passwords_are_sha256_only():
    u = user(">secret")
    assert u.passwords == ["2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b"]
    assert u.check_password(b"secret") is False     # off: no login
    u.apply("on", CAT)
    assert u.check_password(b"secret") and not u.check_password(b"Secret")


def test_unrestricted_key_access_for_sort_patterns():
    keys = lambda: [(1, acl.READ)]        # noqa: E731
    args = [b"get", b"k"]
    assert user("+@all", "~*").has_unrestricted_key_access(CAT, GET, args, keys, acl.READ)
    assert user("+@all", "%R~*").has_unrestricted_key_access(CAT, GET, args, keys, acl.READ)
    assert not user("+@all", "%W~*").has_unrestricted_key_access(CAT, GET, args, keys, acl.READ)
    assert not user("+@all", "~k*").has_unrestricted_key_access(CAT, GET, args, keys, acl.READ)
    assert user("+@all", "~k*", "(+get ~*)").has_unrestricted_key_access(CAT, GET, args, keys, acl.READ)


def test_fixed_key_positions_are_within_the_minimum_arity():
    """The compiled ACL check reads args[pos] for these without a length test."""
    from vermilion.commands.acl import _fixed_keys
    for top in COMMANDS.values():
        for cmd in [top, *((top.subcommands or {}).values())]:
            for pos, _ in _fixed_keys(cmd) or ():
                assert pos < abs(cmd.arity), cmd.fullname
