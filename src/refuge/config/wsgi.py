import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "refuge.config.settings")
# Everything Refuge writes (database, key file, logs under var/) is for its own user only.
os.umask(0o077)

application = get_wsgi_application()
