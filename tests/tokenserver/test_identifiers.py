"""auth-and-tokens §11.3 vectors and §11.1 node_type."""

from syncstorage.tokenserver.identifiers import fxa_kid, hashed_ids
from syncstorage.tokenserver.service import default_node_type


def test_fxa_kid_examples():
    assert fxa_kid(1234, "aaaa") == "0000000001234-qqo"
    assert fxa_kid(2345, "bbbb") == "0000000002345-u7s"
    assert fxa_kid(0, "") == "0000000000000-"


def test_hashed_ids_vector():
    assert hashed_ids("secret", "0123456789abcdef0123456789abcdef") == (
        "4048002ec5ff2ec0ea0d5a8cc577d554",
        "4686278ac62706a391cfe460945f7e48",
    )


def test_node_type_from_database_url():
    assert default_node_type("postgresql://u@h/db") == "postgres"
    assert default_node_type("postgresql+psycopg2://u@h/db") == "postgresql+psycopg2"
    assert default_node_type("postgres://u@h/db") == "postgres"
    assert default_node_type("mysql://root@h/db") == "mysql"
    assert default_node_type("mysql+pymysql://root@h/db") == "mysql"
    assert default_node_type("sqlite:////tmp/x.db") == "sqlite"
