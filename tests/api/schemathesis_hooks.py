"""Schemathesis hooks for the CI fuzz run (loaded through SCHEMATHESIS_HOOKS): every request carries
a fresh access token of a dedicated administrator, so operations the fuzzer calls on purpose
(revoking API keys, disabling users) cannot lock the run out."""

from __future__ import annotations

import os

import requests
import schemathesis


@schemathesis.auth(refresh_interval=60)
class LoginAuth:
    def get(self, case, ctx):
        r = requests.post(f"{os.environ['HZ_FUZZ_URL']}/api/v1/auth/token", timeout=10,
                          data={"grant_type": "password", "username": os.environ["HZ_FUZZ_USER"],
                                "password": os.environ["HZ_FUZZ_PASSWORD"]})
        r.raise_for_status()
        return r.json()["access_token"]

    def set(self, case, data, ctx):
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}
