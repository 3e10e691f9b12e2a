"""Passwords never leave a URL that poolscope shows; drivers are chosen explicitly."""

from __future__ import annotations

import pytest

from poolscope import PoolscopeError, mask_url, url_for_driver
from poolscope._urls import choose_driver


def test_mask_url_hides_the_password() -> None:
    masked = mask_url("postgresql://app:S3cr3t-Pa55@db.local:5432/shop")
    assert "S3cr3t-Pa55" not in masked
    assert masked == "postgresql://app:***@db.local:5432/shop"


def test_mask_url_hides_a_password_given_as_a_query_parameter() -> None:
    masked = mask_url("postgresql://app@db.local/shop?sslmode=disable&password=S3cr%40t&PassWord=x")
    assert "S3cr" not in masked
    assert masked == "postgresql://app@db.local/shop?PassWord=***&password=***&sslmode=disable"


def test_url_for_driver_keeps_credentials_and_server() -> None:
    url = url_for_driver("postgresql://app:pw@127.0.0.1:6543/shop", "asyncpg")
    assert url.drivername == "postgresql+asyncpg"
    assert (url.username, url.password, url.host, url.port, url.database) == (
        "app",
        "pw",
        "127.0.0.1",
        6543,
        "shop",
    )


def test_unparseable_url_error_holds_no_password() -> None:
    with pytest.raises(PoolscopeError) as caught:
        mask_url("this is not a url :hunter2")
    assert "hunter2" not in str(caught.value)


def test_other_databases_are_refused() -> None:
    with pytest.raises(PoolscopeError, match="PostgreSQL"):
        url_for_driver("mysql://u:p@localhost/db", "psycopg2")


def test_mysql_urls_take_the_mysql_drivers() -> None:
    url = url_for_driver("mysql://app:pw@127.0.0.1:3307/shop", "aiomysql")
    assert url.drivername == "mysql+aiomysql"
    assert (url.password, url.port) == ("pw", 3307)
    assert url_for_driver("mariadb+pymysql://a:b@h/d", "pymysql").drivername == "mariadb+pymysql"
    with pytest.raises(PoolscopeError, match="pymysql speaks to MySQL/MariaDB"):
        url_for_driver("postgresql://a:b@h/d", "pymysql")


@pytest.mark.parametrize(
    ("driver", "url", "chosen"),
    [
        (None, None, "psycopg2"),
        (None, "postgresql+asyncpg://a:b@h/d", "psycopg2"),
        (None, "mysql://a:b@h/d", "pymysql"),
        (None, "mysql+aiomysql://a:b@h/d", "aiomysql"),
        (None, "mariadb+pymysql://a:b@h/d", "pymysql"),
        ("aiomysql", "mysql+pymysql://a:b@h/d", "aiomysql"),
        ("asyncpg", None, "asyncpg"),
    ],
)
def test_the_driver_is_the_one_given_else_the_url_s_own(
    driver: str | None, url: str | None, chosen: str
) -> None:
    assert choose_driver(driver, url) == chosen


def test_a_driver_of_another_database_than_the_url_s_is_refused() -> None:
    with pytest.raises(
        PoolscopeError, match="psycopg2 speaks to PostgreSQL; the URL names 'mysql'"
    ):
        choose_driver("psycopg2", "mysql://a:secret@h/d")
    with pytest.raises(PoolscopeError, match="the URL names 'sqlite'"):
        choose_driver(None, "sqlite:///x.db")
