from django.test import RequestFactory

from refuge.accounts.client_ip import client_ip


def test_without_a_proxy_the_socket_address_counts(settings):
    settings.BEHIND_PROXY = False
    request = RequestFactory().get("/", REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="1.2.3.4")
    assert client_ip(request) == "203.0.113.9"


def test_behind_the_proxy_the_address_nginx_saw_counts(settings):
    settings.BEHIND_PROXY = True
    request = RequestFactory().get(
        "/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.7"
    )
    assert client_ip(request) == "198.51.100.7"


def test_behind_the_proxy_without_the_header_the_socket_address_counts(settings):
    settings.BEHIND_PROXY = True
    request = RequestFactory().get("/", REMOTE_ADDR="127.0.0.1")
    assert client_ip(request) == "127.0.0.1"
