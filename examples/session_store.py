"""A session store: field-level reads and writes, login with id regeneration,
sliding + absolute expiry, and "log out everywhere"."""

from _connect import connect, parse_args

from vermilion.patterns import SessionStore


def main():
    args = parse_args(__doc__)
    with connect(args.url) as r:
        sessions = SessionStore(r, "shop", idle=3600, absolute=7 * 86400)
        anon = sessions.create({"cart": "2 items"})
        print("anonymous session:", anon[:12] + "...")
        sid = sessions.regenerate(anon, user="42")  # at login, against session fixation
        sessions.set(sid, {"role": "admin", "theme": "dark"})
        print("after login:", sessions.get_all(sid), "old id valid?", sessions.exists(anon))
        print("role only:", sessions.get(sid, "role"), "- expires in", sessions.ttl(sid), "s")
        phone = sessions.create({"device": "phone"}, user="42")
        print("sessions of user 42:", len(sessions.sessions_of("42")))
        print("log out everywhere:", sessions.destroy_user("42"), "sessions ended")
        print("writing to an ended session:", sessions.set(phone, {"x": "1"}),
              "- still gone:", sessions.get_all(phone))


if __name__ == "__main__":
    main()
