"""Writes of the emergency line, one module per concern (import the module you need):
checkins (schedules, PINs, links, check-ins, missed deadlines), emergencies (raise, join,
acknowledge, resolve), escalation (the policy engine), delivery (the notification outbox), and
setup (policies, rotas, staff channels)."""
