"""A minimal Django project for the integration tests (settings + URLs in one module)."""

from django.contrib.auth import get_user_model, login
from django.http import HttpResponse, JsonResponse
from django.urls import path


def hello(request):
    return HttpResponse(b"hello")


def put(request):
    for k, v in request.GET.items():
        request.session[k] = v
    return JsonResponse(dict(request.session.items()))


def show(request):
    return JsonResponse({"data": dict(request.session.items()), "key": request.session.session_key})


def do_login(request):
    class U:  # enough of a user for django.contrib.auth.login
        pk = request.GET["user"]
        backend = "django.contrib.auth.backends.ModelBackend"

        last_login = None

        def get_session_auth_hash(self):
            return "h"

        def save(self, **kwargs):  # last_login, written by Django's login signal
            pass

        class _meta:
            class pk:
                @staticmethod
                def value_to_string(u):
                    return str(u.pk)
    login(request, U(), backend=U.backend)
    return HttpResponse(b"ok")


def everywhere(request):
    return HttpResponse(str(request.session.logout_everywhere()).encode())


urlpatterns = [path("hello/", hello), path("put/", put), path("show/", show),
               path("login/", do_login), path("everywhere/", everywhere)]
