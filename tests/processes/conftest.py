"""The cluster of node processes the CLI tests of a module share."""

import pytest

from tests.processes.test_cluster_cli import Up


@pytest.fixture(scope="module")
def up():
    """`normach up` (nodes 0 and 1 on 127.0.0.2, node 2 on 127.0.0.3), stopped after the module."""
    u = Up()
    yield u
    u.stop()
