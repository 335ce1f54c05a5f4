"""The daily service: settings, the daily job, notifications, the HTTP API and dashboard.

Modules: :mod:`~vixshield.service.settings` (``service.toml``),
:mod:`~vixshield.service.daily` (``vixshield run-daily``),
:mod:`~vixshield.service.notify` (webhook and e-mail with retries),
:mod:`~vixshield.service.api` (FastAPI app, OpenAPI documented),
:mod:`~vixshield.service.dashboard` (server-rendered offline page),
:mod:`~vixshield.service.scheduler` (APScheduler job after the close, ``vixshield serve``).
"""
