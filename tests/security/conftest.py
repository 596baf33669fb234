from __future__ import annotations

import pytest

from tests.security.server import serve


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = serve(tmp_path_factory.mktemp("security"), webhook_secret="security-suite")
    yield s
    s.stop()
