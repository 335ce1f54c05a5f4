"""The API against its own OpenAPI description, fuzzed by schemathesis.

Every operation of ``/openapi.json`` gets generated requests (valid and invalid, a bounded,
derandomised number per operation) with the bearer token; each response must not be a server
error, must have a declared status code and content type, and must match the declared schema.
The journal holds real decisions of the synthetic market; the daily job is a fast fake.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis import Case
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from vixshield.clock import FixedClock
from vixshield.config import StrategyConfig, fingerprint
from vixshield.data.market import MarketHistory, stamp
from vixshield.data.synthetic import synthetic_market
from vixshield.domain.positions import Book, Leg, OptionContract, Right, Structure
from vixshield.engine import run_day
from vixshield.journal import Journal
from vixshield.service.api import SIGNAL_MODE, create_app
from vixshield.service.daily import DailyOutcome
from vixshield.service.settings import ApiSettings, ServiceSettings
from vixshield.strategy.condor import CondorParams

CONFIG = StrategyConfig(condor=CondorParams(wing_points=25.0))
TOKEN_ENV = "VIXSHIELD_API_FUZZ_TOKEN"
TOKEN = "fuzz-token-abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
DAYS = (date(2018, 1, 2), date(2018, 1, 3))
CLOCK = FixedClock(datetime(2018, 1, 3, 22, 0, tzinfo=UTC))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _book() -> Book:
    expiry = date(2018, 2, 16)
    legs = (
        Leg(OptionContract("SPX", expiry, 650.0, Right.PUT), 1, 1.10),
        Leg(OptionContract("SPX", expiry, 675.0, Right.PUT), -1, 2.40),
    )
    return Book((Structure("put spread", legs),))


def _settings(backtest_dir: str = "") -> ServiceSettings:
    return ServiceSettings(
        api=ApiSettings(public_reads=False, token_env=TOKEN_ENV, backtest_dir=backtest_dir)
    )


def _spec() -> dict[str, Any]:
    """The OpenAPI of the app (it does not depend on the journal's content)."""
    with Journal.open("sqlite://") as blank:
        return create_app(_settings(), journal=blank, clock=CLOCK).openapi()


@pytest.fixture(scope="module")
def journal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Journal]:
    history = MarketHistory.from_synthetic(
        synthetic_market(date(2017, 1, 3), date(2018, 2, 28), seed=7)
    )
    j = Journal.open(data_dir=tmp_path_factory.mktemp("api_fuzz_journal"))
    for day in DAYS:
        decision = run_day(
            history, day, clock=FixedClock(stamp(day)), config=CONFIG, book=_book(), equity_usd=1e6
        )
        run = j.start_run(day, SIGNAL_MODE, CONFIG.model_dump_json(), fingerprint(CONFIG))
        j.record_decision(run, decision)
        j.finish(run)
    j.record_positions(_book(), as_of=DAYS[0], note="fuzz")
    yield j
    j.close()


@pytest.fixture(scope="module")
def app(journal: Journal, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    folder = tmp_path_factory.mktemp("api_fuzz_backtest")
    (folder / "equity.csv").write_text(
        "session,alvh_k1\n2018-01-02,1000000\n2018-01-03,1000250\n", encoding="utf-8"
    )
    (folder / "summary.json").write_text(json.dumps({"title": "fuzz"}), encoding="utf-8")
    stored = journal.latest_decision(DAYS[-1], SIGNAL_MODE)
    assert stored is not None

    def fake_runner(_settings: ServiceSettings, **kw: Any) -> DailyOutcome:
        day = kw["day"] or DAYS[-1]
        if kw["force"]:
            return DailyOutcome("recorded", day, "recorded (fake)", run=stored.run)
        return DailyOutcome("stored", day, "stored (fake)", run=stored.run, decision=stored.data())

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(TOKEN_ENV, TOKEN)
        yield create_app(_settings(str(folder)), journal=journal, clock=CLOCK, runner=fake_runner)


schema = schemathesis.openapi.from_dict(_spec())


@schema.parametrize()
@settings(
    max_examples=25,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_conforms_to_the_openapi(case: Case[Any], app: FastAPI) -> None:
    case.call_and_validate(app=app, headers=AUTH, checks=CHECKS)


def test_every_operation_is_fuzzed() -> None:
    assert len(list(schema.get_all_operations())) == 17
