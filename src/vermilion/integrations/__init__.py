"""Glue for the web frameworks and tools people already use.

* ``vermilion.integrations.ratelimit``: a decorator for sync and async
  functions, an ASGI middleware (Starlette, FastAPI) and a WSGI middleware
  (Flask, Django), answering 429 with the headers of your choice.
* ``vermilion.integrations.flask``: a Flask ``SessionInterface``.
* ``vermilion.integrations.starlette``: a Starlette/FastAPI session middleware.
* ``vermilion.integrations.django``: a Django ``SESSION_ENGINE``.

Each imports its framework only when used; none is a dependency of vermilion.
"""
