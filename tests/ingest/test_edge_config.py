"""`hazwatch edge run` refuses a bad edge.yaml with the reason, before it touches the field."""

from __future__ import annotations

from typer.testing import CliRunner

from hazwatch.cli.main import app as cli


def run(tmp_path, text: str):
    f = tmp_path / "edge.yaml"
    f.write_text(text)
    return CliRunner().invoke(cli, ["edge", "run", "--config", str(f)])


def test_a_missing_secret_is_named(tmp_path):
    r = run(tmp_path, f"uplink: {{url: 'http://127.0.0.1:1', secret_env: HZ_NOT_SET_ANYWHERE}}\n"
                      f"spool: {{dir: '{tmp_path / 's'}'}}\n")
    assert r.exit_code == 2 and "HZ_NOT_SET_ANYWHERE is not set" in r.output


def test_unknown_fields_and_bad_endpoints_are_named(tmp_path):
    r = run(tmp_path, f"uplink: {{url: 'http://127.0.0.1:1', secret: s, retries: 3}}\n"
                      f"spool: {{dir: '{tmp_path / 's'}', policy: keep_everything}}\n"
                      "opcua: [{endpoint: 'http://not-opc', nodes: {}}]\n")
    assert r.exit_code == 2
    for needle in ("uplink.retries", "spool.policy", "opcua.0.endpoint"):
        assert needle in r.output, r.output
