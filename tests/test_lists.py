"""List commands, compared frame by frame with a real redis-server (RESP2 and RESP3).

Blocking behaviour (waking, FIFO, timeouts, MULTI) is in test_blocking.py; here
the blocking commands are checked on their immediate paths and errors.
"""
from __future__ import annotations


def test_push_pop_basics(pair):
    pair.run("""
    LPUSH l a b c
    RPUSH l d e
    LRANGE l 0 -1
    LLEN l
    LPOP l
    RPOP l
    LPOP l 2
    RPOP l 0
    LPOP l 10
    EXISTS l
    LPOP l
    LPOP l 2
    RPOP nokey 0
    LLEN nokey
    RPUSH l x
    LPOP l 1
    EXISTS l
    """)


def test_pop_errors(pair):
    pair.run("""
    RPUSH l a b
    LPOP l -1
    LPOP l abc
    RPOP l 1 2
    LPOP nokey -1
    LPOP l 01
    LPOP l 0x1
    SET s v
    LPOP s
    RPOP s 2
    LPUSH s a
    RPUSHX s a
    LLEN s
    """)


def test_pushx(pair):
    pair.run("""
    LPUSHX l a
    RPUSHX l a b
    EXISTS l
    RPUSH l x
    LPUSHX l a b
    RPUSHX l c d
    LRANGE l 0 -1
    """)


def test_lrange_indexes(pair):
    pair.run("RPUSH l " + " ".join(str(i) for i in range(20)))
    for start, stop in [(0, -1), (0, 0), (-1, -1), (5, 2), (-100, 3), (3, 100), (19, 19), (20, 30),
                        (-3, -1), (-20, -19), (0, -21), (-21, -20), (10, 9), (2, -18), (1, -1)]:
        pair.check("LRANGE", "l", start, stop)
    pair.run("""
    LRANGE l a 1
    LRANGE l 0 b
    LRANGE nokey 0 -1
    LRANGE nokey x 1
    """)


def test_lrange_long_list_from_both_ends(pair):
    values = [f"v{i}" for i in range(300)]
    pair.check("RPUSH", "big", *values)
    for start, stop in [(0, 99), (200, 299), (-100, -1), (150, 160), (-1, -1), (0, 299), (290, 400)]:
        pair.check("LRANGE", "big", start, stop)


def test_lindex_lset(pair):
    pair.run("""
    RPUSH l a b c
    LINDEX l 0
    LINDEX l -1
    LINDEX l 3
    LINDEX l -4
    LINDEX l x
    LINDEX nokey x
    LINDEX nokey 0
    LSET l 1 B
    LSET l -1 C
    LSET l 3 x
    LSET l -4 x
    LSET l x y
    LSET nokey 0 x
    LSET nokey x y
    LRANGE l 0 -1
    """)


def test_linsert(pair):
    pair.run("""
    RPUSH l a b c b
    LINSERT l BEFORE b x
    LINSERT l after b y
    LINSERT l before zz q
    LINSERT l middle b q
    LINSERT nokey before a b
    LINSERT nokey middle a b
    LRANGE l 0 -1
    EXISTS nokey
    """)


def test_lrem(pair):
    pair.run("""
    RPUSH l a b a c a d a
    LREM l 2 a
    LRANGE l 0 -1
    LREM l -1 a
    LRANGE l 0 -1
    LREM l 0 a
    LRANGE l 0 -1
    LREM l 0 zz
    LREM l x a
    LREM nokey 1 a
    LREM l 0 b
    LREM l 0 c
    LREM l 0 d
    EXISTS l
    RPUSH l a b a b a
    LREM l -2 a
    LRANGE l 0 -1
    LREM l 100 b
    LRANGE l 0 -1
    """)


def test_ltrim(pair):
    for start, stop in [(0, -1), (1, -2), (2, 2), (-3, -1), (5, 1), (0, 100), (-100, 1), (30, 40),
                        (0, 0), (-1, -1), (3, 9)]:
        pair.check("DEL", "l")
        pair.check("RPUSH", "l", *"abcdefghij")
        pair.check("LTRIM", "l", start, stop)
        pair.check("LRANGE", "l", 0, -1)
        pair.check("EXISTS", "l")
    pair.run("""
    LTRIM nokey 0 1
    LTRIM l x 1
    LTRIM nokey 0 y
    """)


def test_lpos(pair):
    pair.run("""
    RPUSH l a b c 1 2 3 c c
    LPOS l c
    LPOS l c RANK 2
    LPOS l c RANK -1
    LPOS l c RANK -3
    LPOS l c RANK 4
    LPOS l c COUNT 0
    LPOS l c COUNT 2
    LPOS l c COUNT 2 RANK -1
    LPOS l c COUNT 0 MAXLEN 7
    LPOS l c MAXLEN 2
    LPOS l c RANK -1 MAXLEN 1
    LPOS l c RANK -1 MAXLEN 2 COUNT 0
    LPOS l zz
    LPOS l zz COUNT 0
    LPOS nokey a
    LPOS nokey a COUNT 1
    LPOS l c RANK 0
    LPOS l c COUNT -1
    LPOS l c MAXLEN -1
    LPOS l c RANK x
    LPOS l c COUNT x
    LPOS l c MAXLEN x
    LPOS l c FOO 1
    LPOS l c RANK
    LPOS l c RANK 1 COUNT
    LPOS nokey c RANK 0
    LPOS l c RANK -9223372036854775808
    LPOS l c RANK 9223372036854775807
    """)


def test_lmove_rpoplpush(pair):
    pair.run("""
    RPUSH src a b c
    LMOVE src dst LEFT RIGHT
    LMOVE src dst right left
    LRANGE src 0 -1
    LRANGE dst 0 -1
    RPOPLPUSH src dst
    EXISTS src
    RPOPLPUSH src dst
    LMOVE nokey dst LEFT LEFT
    LMOVE dst dst LEFT RIGHT
    LRANGE dst 0 -1
    LMOVE src dst MIDDLE LEFT
    LMOVE src dst LEFT UP
    SET str x
    LMOVE dst str LEFT LEFT
    LMOVE str dst LEFT LEFT
    RPOPLPUSH dst str
    LRANGE dst 0 -1
    RPUSH one x
    RPOPLPUSH one one
    LRANGE one 0 -1
    LMOVE one one LEFT LEFT
    LRANGE one 0 -1
    """)


def test_lmpop(pair):
    pair.run("""
    RPUSH l1 a b c
    RPUSH l2 d e
    LMPOP 2 nokey l1 LEFT
    LMPOP 2 nokey l1 RIGHT COUNT 5
    EXISTS l1
    LMPOP 2 l1 l2 RIGHT COUNT 1
    LMPOP 1 nokey LEFT
    LMPOP 1 nokey LEFT COUNT 3
    LMPOP 0 l1 LEFT
    LMPOP -1 l1 LEFT
    LMPOP x l1 LEFT
    LMPOP 3 l1 l2 LEFT
    LMPOP 1 l2 MIDDLE
    LMPOP 1 l2 LEFT COUNT 0
    LMPOP 1 l2 LEFT COUNT -1
    LMPOP 1 l2 LEFT COUNT x
    LMPOP 1 l2 LEFT COUNT 1 COUNT 1
    LMPOP 1 l2 LEFT FOO
    LMPOP 1 l2 LEFT COUNT
    LMPOP 3000000000 l2 LEFT
    SET str v
    LMPOP 2 nokey str LEFT
    LMPOP 2 l2 str LEFT
    """)


def test_blocking_immediate_paths(pair):
    pair.run("""
    RPUSH l a b c
    RPUSH l2 x
    BLPOP nokey l 0
    BRPOP l 1
    BRPOP nokey l2 0.5
    BLMPOP 0 2 nokey l LEFT COUNT 5
    RPUSH l a b c
    BLMOVE l d LEFT RIGHT 0
    BRPOPLPUSH l d 0
    LRANGE d 0 -1
    BLMPOP 0 1 l RIGHT
    EXISTS l
    SET str v
    BLPOP str 0
    BLPOP nokey str 0
    BLMOVE str d LEFT LEFT 0
    BLMOVE d str LEFT LEFT 0
    BRPOPLPUSH d str 0
    BLMPOP 0 1 str LEFT
    """)


def test_blocking_argument_errors(pair):
    pair.run("""
    BLPOP l x
    BLPOP l -1
    BLPOP l inf
    BLPOP l 1e400
    BLPOP l nan
    BRPOP l ""
    BLMOVE a b left middle x
    BLMOVE a b left right -1
    BLMOVE a b up right 1
    BRPOPLPUSH a b x
    BLMPOP -1 0 l left
    BLMPOP x 1 l left
    BLMPOP 0 0 l left
    BLMPOP 0 1 l middle
    BLMPOP 0 1 l left count 0
    BLMPOP x 1 l middle
    BLMPOP 0 2 l left
    """)


def test_wrongtype_and_encoding(pair):
    pair.run("""
    SET s v
    LLEN s
    LRANGE s 0 1
    LINDEX s 0
    LSET s 0 x
    LINSERT s before a b
    LREM s 0 a
    LTRIM s 0 1
    LPOS s a
    RPUSH l a
    OBJECT ENCODING l
    TYPE l
    """)
    pair.check("RPUSH", "l", "x" * 100)
    pair.check("OBJECT", "ENCODING", "l")


def test_binary_and_empty_elements(pair):
    pair.check("RPUSH", "l", "", "\x00\xff", "a\r\nb")
    pair.check("LRANGE", "l", 0, -1)
    pair.check("LPOS", "l", "")
    pair.check("LREM", "l", 0, "")
    pair.check("LRANGE", "l", 0, -1)


def test_pipelined_pushes_and_pops(pair):
    # Many commands in one write: the fast path must keep replies in order.
    from rawclient import encode_command
    payload = b"".join(encode_command(["RPUSH", "p", str(i)]) for i in range(50))
    payload += b"".join(encode_command(["LPOP", "p"]) for _ in range(25))
    for side in (pair.ref, pair.ver):
        side.send_raw(payload)
    ref = [pair.ref.read() for _ in range(75)]
    ver = [pair.ver.read() for _ in range(75)]
    assert ref == ver
    pair.check("LRANGE", "p", 0, -1)


def _list_reads(pair, key):
    pair.check("LLEN", key)
    pair.check("LRANGE", key, 0, -1)
    pair.check("LRANGE", key, -5, 3)
    for index in (0, 1, -1, -2, 64, 129, 500):
        pair.check("LINDEX", key, index)
    pair.check("LPOS", key, "e", "RANK", -2, "COUNT", 3)
    pair.check("OBJECT", "ENCODING", key)


def test_commands_across_the_packed_bound(pair):
    # Small lists are packed up to 128 elements / 8 KB and a QuickList past that: every
    # command must read the same either way, at the bounds and across them.
    sizes = [0, 1, 3, 254, 255, 300, 2]
    for i in range(200):
        value = ("e" if i % 7 == 0 else chr(97 + i % 26)) * sizes[i % len(sizes)]
        pair.check("LPUSH" if i % 3 else "RPUSH", "l", value)
        if i in (0, 2, 126, 127, 128, 199):
            _list_reads(pair, "l")
    pair.check("LSET", "l", 5, "set")
    pair.check("LSET", "l", -1, "x" * 300)
    pair.check("LINSERT", "l", "BEFORE", "set", "before")
    pair.check("LINSERT", "l", "AFTER", "x" * 300, "after")
    pair.check("LREM", "l", -2, "e")
    pair.check("LREM", "l", 0, "")
    _list_reads(pair, "l")
    pair.check("LTRIM", "l", 3, 12)
    _list_reads(pair, "l")
    pair.check("RPUSH", "small", "a", "b", "c")
    pair.check("LMOVE", "l", "small", "RIGHT", "LEFT")
    pair.check("RPOPLPUSH", "small", "l")
    pair.check("LSET", "small", 1, "y" * 9000)       # past 8 KB in place
    _list_reads(pair, "small")
    pair.check("LINSERT", "small", "AFTER", "a", "z" * 9000)
    pair.check("LPOP", "small", 2)
    pair.check("RPOP", "small", 2)
    _list_reads(pair, "small")
    pair.check("LPOP", "l", 3)
    pair.check("RPOP", "l", 100)
    pair.check("EXISTS", "l")
    pair.check("RPUSH", "big", *[str(i) for i in range(300)])
    pair.check("LTRIM", "big", 10, 13)      # a deque shrunk small keeps answering alike
    _list_reads(pair, "big")
    pair.check("BLPOP", "nothing", "big", 0)
    pair.check("BRPOP", "big", 0)
    pair.check("BLMOVE", "big", "small", "LEFT", "RIGHT", 0)
    _list_reads(pair, "small")


def test_large_lists_across_many_nodes(pair):
    """A list of thousands of elements is many packed nodes in Vermilion (128 elements
    or 8 KB each): reads and edits anywhere, across node edges, answer as Redis."""
    def reads():
        pair.check("LLEN", "l")
        for index in (0, 1, 127, 128, 129, 255, 256, 1000, 2047, -1, -128, -129, -2000, 5000):
            pair.check("LINDEX", "l", index)
        for start, stop in ((0, 300), (120, 140), (-300, -1), (1000, 1300), (0, -1)):
            pair.check("LRANGE", "l", start, stop)
        pair.check("LPOS", "l", "dup", "RANK", -3, "COUNT", 5, "MAXLEN", 1500)
        pair.check("LPOS", "l", "dup", "COUNT", 0)
    for i in range(0, 2400, 100):                  # both ends, both single and batched
        chunk = ["dup" if j % 97 == 0 else "v%d" % j for j in range(i, i + 100)]
        if i % 200 or i >= 800:
            pair.check("LPUSH" if i % 200 else "RPUSH", "l", *chunk)
        else:
            for v in chunk:
                pair.check("RPUSH", "l", v)
    pair.check("RPUSH", "l", "x" * 9000, "y" * 300)     # elements past a node / past 255 bytes
    reads()
    for index in (0, 128, 129, 1200, -1, -2, -700):
        pair.check("LSET", "l", index, "set%d" % index)
    pair.check("LSET", "l", 1300, "z" * 9000)
    pair.check("LINSERT", "l", "BEFORE", "set1200", "ins-before")
    pair.check("LINSERT", "l", "AFTER", "set129", "ins-after")
    pair.check("LINSERT", "l", "AFTER", "dup", "w" * 500)
    reads()
    pair.check("LREM", "l", 3, "dup")
    pair.check("LREM", "l", -2, "dup")
    reads()
    pair.check("LPOP", "l", 300)
    pair.check("RPOP", "l", 130)
    for _ in range(5):
        pair.check("LPOP", "l")
        pair.check("RPOP", "l")
    pair.check("LMOVE", "l", "l", "LEFT", "RIGHT")
    pair.check("BLMOVE", "l", "other", "RIGHT", "LEFT", 0)
    pair.check("BRPOP", "l", 0)
    reads()
    pair.check("DEBUG", "RELOAD")
    reads()
    pair.check("RESTORE", "copy", 0, pair.ref.call("DUMP", "l").value)
    pair.check("LRANGE", "copy", 0, -1)
    pair.check("LTRIM", "l", 500, -500)
    reads()
    pair.check("LREM", "l", 0, "dup")
    pair.check("LTRIM", "l", 5, 7)
    reads()
