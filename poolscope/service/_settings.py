"""The sample service's settings: ``POOLSCOPE_*`` variables, overridden by flags."""

from __future__ import annotations

from typing import Any

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from poolscope._errors import PoolscopeError
from poolscope._stacks import StackCapture
from poolscope._urls import ALL_DRIVERS, Driver, choose_driver, mask_url

__all__ = ["ServiceSettings", "settings_from"]


class ServiceSettings(BaseSettings):
    """Everything the service is built from; one instance per app, nothing global."""

    model_config = SettingsConfigDict(env_prefix="POOLSCOPE_", frozen=True, extra="forbid")

    # A secret so that printing the settings never shows the password.
    database_url: SecretStr | None = None
    driver: Driver = "psycopg2"
    pool_size: int = Field(default=10, ge=1)
    # 0 for the demo: the 11th concurrent request waits instead of opening a connection.
    max_overflow: int = Field(default=0, ge=0)
    pool_timeout: float = Field(default=30.0, gt=0)
    leak_threshold: float | None = Field(default=None, gt=0)
    # What a leak report names as the borrower (with a leak_threshold only).
    stack_capture: StackCapture = "site"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    workers: int = Field(default=1, ge=1)
    # FastAPI runs sync routes in anyio's thread pool (40 threads by default); with more
    # threads than pooled connections the extra requests queue for a connection.
    thread_limit: int = Field(default=40, ge=1)
    # How many sessions /antipatterns/leak keeps before it answers 503.
    leak_bound: int = Field(default=1000, ge=1)
    # The pool label of the service's engine, and of the engines the anti-pattern builds
    # per request: poolscope_pools_created_total{pool=...} rises with each of those.
    pool_name: str = "service"

    @model_validator(mode="before")
    @classmethod
    def _driver_of_the_url(cls, given: Any) -> Any:
        """No driver given: the URL's own (pymysql for ``mysql://``); a driver of another
        database than the URL's is refused, without the URL in the message."""
        if not isinstance(given, dict):
            return given
        url = given.get("database_url")
        url = url.get_secret_value() if isinstance(url, SecretStr) else url
        driver = given.get("driver")
        if not isinstance(url, str) or not url or not (driver is None or driver in ALL_DRIVERS):
            return given  # an unknown driver gets pydantic's own message
        try:
            return {**given, "driver": choose_driver(driver, url)}
        except PoolscopeError as error:
            raise ValueError(str(error)) from None

    @property
    def masked_database_url(self) -> str | None:
        if self.database_url is None:
            return None
        return mask_url(self.database_url.get_secret_value())

    def to_environment(self) -> dict[str, str]:
        """The settings as ``POOLSCOPE_*`` variables, for worker processes to read back."""
        environment: dict[str, str] = {}
        for name, value in self.model_dump().items():
            if value is None:
                continue
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            environment[f"POOLSCOPE_{name.upper()}"] = str(value)
        return environment


def settings_from(**overrides: object) -> ServiceSettings:
    """Settings from the environment, with the given (non-``None``) values on top.

    Invalid values raise a one-line :class:`PoolscopeError` naming the setting.
    """
    given = {name: value for name, value in overrides.items() if value is not None}
    try:
        return ServiceSettings(**given)  # type: ignore[arg-type]
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in detail['loc']) or 'database_url'}: "
            f"{detail['msg'].removeprefix('Value error, ')}"
            for detail in error.errors(include_input=False)
        )
        raise PoolscopeError(f"invalid service settings: {problems}") from None
