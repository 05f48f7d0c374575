"""Suite-wide: no test makes or uses the real user's local CA.

`ingressd run` and `ingressd certs` keep one CA per user (~/.local/share/ingressd, see
ingressd/caroot.py). Every test and every ingressd subprocess it starts (they inherit os.environ)
gets a CA directory of this session instead, through $INGRESSD_CAROOT.
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="session")
def _session_caroot(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("INGRESSD_CAROOT", str(tmp_path_factory.mktemp("caroot")))
        yield
