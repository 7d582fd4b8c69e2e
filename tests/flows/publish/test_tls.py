"""TLS stays verified: a private CA works when given, an untrusted certificate fails at once."""

import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import trustme

from flows.publish.client import FhirClient, RetryPolicy
from tests.flows.reports import publish_and_read

pytestmark = pytest.mark.prefect


class _Fhir(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = json.dumps({"resourceType": "Bundle", "type": "transaction-response", "entry": []}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/fhir+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # keep the test output clean
        pass


@pytest.fixture
def https_server(tmp_path):
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Fhir)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/fhir", str(ca_file)
    finally:
        server.shutdown()
        server.server_close()


def test_a_private_ca_bundle_is_trusted(https_server):
    url, ca_file = https_server
    with FhirClient(url, ca_bundle=ca_file) as client:
        attempted = client.post_bundle(b"{}")
    assert attempted.ok and attempted.attempts == 1


def test_an_untrusted_certificate_fails_without_retries(https_server):
    url, _ = https_server
    waits = []
    with FhirClient(url, policy=RetryPolicy(attempts=5), sleep=waits.append) as client:
        attempted = client.post_bundle(b"{}")
    assert not attempted.ok and attempted.response is None
    assert "CERTIFICATE_VERIFY_FAILED" in (attempted.error or "")
    assert attempted.attempts == 1 and waits == [] and not attempted.transient


def test_an_untrusted_server_is_found_by_the_preflight_and_nothing_is_sent(https_server, seeds_output):
    url, _ = https_server
    report = publish_and_read(seeds_output, url, base_delay=0.01)
    assert report["publish"]["preflight"]["attempts"] == 1  # a certificate is not retried
    for entry in report["studies"]:
        section = entry["publish"]
        assert section["status"] == "failed" and section["retry"] is False and section["attempts"] == 0
        assert section["reason"].startswith("server not trusted (TLS): not sent, GET metadata got no answer")
        assert "CERTIFICATE_VERIFY_FAILED" in section["reason"]
