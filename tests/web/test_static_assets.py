"""Every asset the base layout links is really served, from this server (no CDN)."""

import re

import pytest
from django.contrib.staticfiles import finders


@pytest.mark.django_db
def test_every_asset_of_the_login_page_is_found(client):
    page = client.get("/accounts/login/").content.decode()
    assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', page)
    assert assets
    for asset in assets:
        assert finders.find(asset.removeprefix("/static/")), asset


@pytest.mark.django_db
def test_pages_reference_no_other_host(client):
    page = client.get("/accounts/login/").content.decode()
    assert not re.search(r'(?:href|src)="(?:https?:)?//', page)
