"""The daily service's settings: one TOML file (``service.toml``), every key documented here.

The strategy itself is configured by the strategy TOML (:mod:`vixshield.config`); this file
says where data, the journal and the reports live, when the daily job runs, who is notified
and how the HTTP API is protected. Secrets are never stored in it: it names the environment
variables that hold them (``api.token_env``, ``notify.email.password_env``).

The file :data:`DEFAULT_SETTINGS_TOML` (written by ``vixshield settings-init``) lists every
key with its default and meaning.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from vixshield.config import ConfigError, describe_validation_error, read_toml

DEFAULT_SETTINGS_TOML: Final = """\
# VixShield service settings: every key with its default. Secrets are read from the
# environment variables named here, never from this file.

[data]
source = "real"            # "real": the local store; "synthetic": the embedded market
data_dir = ""              # default $VIXSHIELD_DATA_DIR, else ~/.vixshield/data
fetch = false              # download and import new data before the signal
download_dir = ""          # default <data_dir>/downloads

[strategy]
config = ""                # strategy TOML (default: the documented defaults)
equity_usd = 100000.0      # account equity: sizing, delta band; the journaled book starts here
equity_source = "fixed"    # "fixed": equity_usd; "journal": the journaled book's last equity
book = ""                  # a book file (CSV/JSON); default: the journaled positions

[journal]
url = ""                   # SQLAlchemy URL; default sqlite <data_dir>/journal.sqlite

[schedule]
time = "16:30"             # local time of the daily job, HH:MM
timezone = "America/New_York"
misfire_grace_minutes = 120

[api]
host = "127.0.0.1"
port = 8000
public_reads = true        # false: every read needs the token too
token_env = "VIXSHIELD_API_TOKEN"
backtest_dir = ""          # a `vixshield backtest --out` folder to show; "" = none
public_url = ""            # the dashboard's address for links in notifications; "" = none

[notify]
retries = 4                # attempts after the first, with exponential backoff
backoff_seconds = 2.0      # first wait; doubles each retry (capped at 60 s)
timeout_seconds = 10.0

[notify.webhook]
urls = []                  # JSON POST (Slack-compatible "text" + "blocks") to each

[notify.email]
host = ""                  # SMTP server; "" = no e-mail
port = 587
starttls = true
ca_file = ""               # PEM file of CAs trusted for the server's certificate; "" = the system's
username = ""
password_env = "VIXSHIELD_SMTP_PASSWORD"
sender = ""
recipients = []
"""

_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DataSettings(_Part):
    source: Literal["real", "synthetic"] = "real"
    data_dir: str = ""
    fetch: bool = False
    download_dir: str = ""

    def store_dir(self) -> Path:
        """The local store: ``data_dir``, else $VIXSHIELD_DATA_DIR, else ~/.vixshield/data."""
        if self.data_dir:
            return Path(self.data_dir).expanduser()
        env = os.environ.get("VIXSHIELD_DATA_DIR")
        return Path(env) if env else Path.home() / ".vixshield" / "data"

    def downloads(self) -> Path:
        if self.download_dir:
            return Path(self.download_dir).expanduser()
        return self.store_dir() / "downloads"


class StrategySettings(_Part):
    config: str = ""
    equity_usd: float = Field(default=100_000.0, gt=0, allow_inf_nan=False)
    equity_source: Literal["fixed", "journal"] = "fixed"
    book: str = ""


class JournalSettings(_Part):
    url: str = ""


class ScheduleSettings(_Part):
    time: str = "16:30"
    timezone: str = "America/New_York"
    misfire_grace_minutes: int = Field(default=120, ge=1, le=24 * 60)

    @field_validator("time")
    @classmethod
    def _check_time(cls, v: str) -> str:
        if not _HHMM.match(v):
            raise ValueError("must be HH:MM on a 24-hour clock, e.g. 16:30")
        return v

    @field_validator("timezone")
    @classmethod
    def _check_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("is not an IANA time zone, e.g. America/New_York") from None
        return v

    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def hour_minute(self) -> tuple[int, int]:
        h, m = self.time.split(":")
        return int(h), int(m)


class ApiSettings(_Part):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    public_reads: bool = True
    token_env: str = "VIXSHIELD_API_TOKEN"
    backtest_dir: str = ""
    public_url: str = ""

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, v: str) -> str:
        if v and not v.startswith(("http://", "https://")):
            raise ValueError(f"{v!r} is not an http(s) URL")
        return v

    def token(self) -> str | None:
        """The API token from the environment (None when unset or empty)."""
        value = os.environ.get(self.token_env, "")
        return value or None


class WebhookSettings(_Part):
    urls: tuple[str, ...] = ()

    @field_validator("urls")
    @classmethod
    def _check_urls(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for url in v:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"{url!r} is not an http(s) URL")
        return v


class EmailSettings(_Part):
    host: str = ""
    port: int = Field(default=587, ge=1, le=65535)
    starttls: bool = True
    ca_file: str = ""
    username: str = ""
    password_env: str = "VIXSHIELD_SMTP_PASSWORD"
    sender: str = ""
    recipients: tuple[str, ...] = ()

    @property
    def enabled(self) -> bool:
        return bool(self.host)

    def password(self) -> str | None:
        value = os.environ.get(self.password_env, "")
        return value or None


class NotifySettings(_Part):
    retries: int = Field(default=4, ge=0, le=20)
    backoff_seconds: float = Field(default=2.0, ge=0, le=600, allow_inf_nan=False)
    timeout_seconds: float = Field(default=10.0, gt=0, le=600, allow_inf_nan=False)
    webhook: WebhookSettings = Field(default_factory=WebhookSettings)
    email: EmailSettings = Field(default_factory=EmailSettings)


class ServiceSettings(_Part):
    """Every setting of the daily service (TOML tables of the same names)."""

    data: DataSettings = Field(default_factory=DataSettings)
    strategy: StrategySettings = Field(default_factory=StrategySettings)
    journal: JournalSettings = Field(default_factory=JournalSettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    notify: NotifySettings = Field(default_factory=NotifySettings)

    def journal_url(self) -> str:
        """``journal.url``, else SQLite at ``<data_dir>/journal.sqlite``."""
        if self.journal.url:
            return self.journal.url
        return f"sqlite:///{self.data.store_dir() / 'journal.sqlite'}"


def parse_settings(data: dict[str, Any], *, source: str = "<service settings>") -> ServiceSettings:
    """Validate a mapping (as read from TOML); unknown keys and bad values are refused."""
    try:
        return ServiceSettings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, source)) from None


def load_settings(path: Path | None) -> ServiceSettings:
    """Read ``service.toml`` (``None``: every default)."""
    if path is None:
        return ServiceSettings()
    return parse_settings(read_toml(path, "the service settings"), source=str(path))
