from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The reference scenario as demo data (`refuge demo`); refuses to run outside demo mode."""

    name = "refuge.demo"
    label = "demo"
