"""The web dashboard: `vermilion server --dashboard-port 8080` serves it from the
server's own loop; `vermilion dashboard --url redis://host:6379` serves it for any
Redis-protocol server (real Redis too). See docs/dashboard.md."""
