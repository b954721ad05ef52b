"""Django with server-side sessions on Vermilion and rate limiting, in one file.

The settings are the few lines a project adds; the requests go through
Django's test client and print what a browser would see.
"""

import django
import redis
from _connect import parse_args, servers
from django.conf import settings
from django.http import JsonResponse
from django.urls import path


def visits(request):
    request.session["visits"] = request.session.get("visits", 0) + 1
    return JsonResponse({"visits": request.session["visits"]})


urlpatterns = [path("", visits)]


def main():
    args = parse_args(__doc__)
    with servers([args.url] if args.url else []) as (url,):
        settings.configure(
            ROOT_URLCONF=__name__, SECRET_KEY="demo", ALLOWED_HOSTS=["*"],
            INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth",
                            "django.contrib.sessions"],
            # the lines a project adds:
            SESSION_ENGINE="vermilion.integrations.django",
            VERMILION_SESSIONS={"url": url, "namespace": "django-demo", "idle": 1800},
            MIDDLEWARE=["vermilion.integrations.django.SessionMiddleware"])
        django.setup()
        from django.core.handlers.wsgi import WSGIHandler
        from django.test import Client

        from vermilion.integrations.ratelimit import WSGIRateLimitMiddleware
        from vermilion.patterns import RateLimiter

        # in wsgi.py: application = WSGIRateLimitMiddleware(get_wsgi_application(), limiter)
        application = WSGIRateLimitMiddleware(
            WSGIHandler(), RateLimiter(redis.Redis.from_url(url), "django-demo", "3/second"))
        browser = Client()
        for _ in range(3):
            print("GET /", browser.get("/").json())
        environ = browser._base_environ(PATH_INFO="/", REQUEST_METHOD="GET")
        statuses = []
        for _ in range(5):
            application(environ, lambda status, headers, exc=None: statuses.append(status))
        print("through the WSGI rate limiter:", statuses)


if __name__ == "__main__":
    main()
