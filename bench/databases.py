"""MySQL/MariaDB databases that a run makes for itself (the benchmark's, the tests'), and drops.

They are made on a server on loopback only: a database that is dropped and made anew must never
be one on another machine. Each is made empty, in utf8mb4 with a binary collation (the app folds
names into its own ``*_key`` columns, so the server must not fold them again).
"""

import ipaddress
from urllib.parse import urlsplit

import pymysql
from playhouse.db_url import parse as parse_db_url


def is_loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_loopback(url):
    """Refuse (ValueError) a MySQL URL whose server is not on loopback."""
    host = urlsplit(url).hostname or ""
    if not is_loopback(host):
        raise ValueError(f"a MySQL/MariaDB server on loopback only, not {host!r}")


def connect_server(url, database=None):
    """An autocommit connection to the server of the MySQL URL ``url``, on ``database`` if given;
    the URL read as the app reads it (playhouse.db_url), options and quoting included."""
    params = parse_db_url(url, unquote_password=True, unquote_user=True)
    params["database"] = database
    return pymysql.connect(connect_timeout=2, autocommit=True, **params)


def connect_database(url):
    """An autocommit connection to the database the MySQL URL ``url`` names (beside the app's own)."""
    return connect_server(url, database_name(url))


def database_name(url):
    return parse_db_url(url)["database"]


def create_database(url):
    """Drop the database ``url`` names, if there is one, and create it empty."""
    check_loopback(url)
    with connect_server(url) as server, server.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS `{database_name(url)}`")
        cursor.execute(f"CREATE DATABASE `{database_name(url)}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")


def drop_database(url):
    check_loopback(url)
    with connect_server(url) as server, server.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS `{database_name(url)}`")
