"""Notification channels: one small protocol, one class per way of reaching a person. A channel
sends one message and says what happened; retries, grouping and the delivery log are the
notifier's, so every channel gets them alike."""

from __future__ import annotations

import hashlib
import hmac
import smtplib
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any, Protocol

import httpx
import orjson

from hazwatch.domain.netpolicy import OutboundPolicy
from hazwatch.incidents.outbound import Refused, guarded_client

SIGNATURE_HEADER = "X-Hazwatch-Signature"
TIMESTAMP_HEADER = "X-Hazwatch-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"


@dataclass
class Message:
    key: str  # idempotency key: the same on every attempt, so a receiver can drop repeats
    subject: str
    body: str
    priority: str
    incident: int | None
    created_at: str
    items: list[dict[str, Any]] = field(default_factory=list)  # a summary's constituent messages

    def payload(self) -> dict[str, Any]:
        return {"id": self.key, "subject": self.subject, "body": self.body, "priority": self.priority,
                "incident": self.incident, "created_at": self.created_at, "items": self.items}


class SendError(Exception):
    """The channel could not deliver; the notifier retries with back-off."""


class Channel(Protocol):
    name: str

    def send(self, address: str, message: Message) -> str:
        """Deliver, or raise SendError; returns a line for the delivery log."""
        ...


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 over `timestamp.body`: a receiver checks both, so a captured request cannot be
    replayed later with a fresh timestamp."""
    return "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


class WebhookChannel:
    name = "webhook"

    def __init__(self, secret: bytes, timeout_s: float = 10.0, policy: OutboundPolicy | None = None) -> None:
        self.secret = secret
        self.client = guarded_client(policy or OutboundPolicy(), timeout_s)

    def send(self, address: str, message: Message) -> str:
        body = orjson.dumps(message.payload())
        ts = str(int(time.time()))
        headers = {"Content-Type": "application/json", IDEMPOTENCY_HEADER: message.key, TIMESTAMP_HEADER: ts,
                   SIGNATURE_HEADER: sign(self.secret, ts, body)}
        try:
            r = self.client.post(address, content=body, headers=headers)
        except Refused as e:
            raise SendError(f"refused: {e}") from None
        except (httpx.HTTPError, OSError) as e:
            raise SendError(f"{type(e).__name__}: the receiver could not be reached") from None
        # the status only: a receiver's answer is not the sender's to show (it may be a page of an
        # internal system that the policy admitted on purpose)
        if r.status_code >= 300:
            raise SendError(f"HTTP {r.status_code}")
        return f"HTTP {r.status_code}"


class SmtpChannel:
    name = "email"

    def __init__(self, host: str, port: int, sender: str, user: str | None = None, password: str | None = None,
                 starttls: bool = False, timeout_s: float = 10.0) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.user, self.password, self.starttls, self.timeout_s = user, password, starttls, timeout_s

    def send(self, address: str, message: Message) -> str:
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = address
        mail["Subject"] = f"[Hazwatch {message.priority}] {message.subject}"
        # the idempotency key as Message-ID: a retried mail is recognisably the same mail
        mail["Message-ID"] = f"<{message.key}@hazwatch>"
        lines = [message.body] + [f"- {i['subject']}: {i['body']}" for i in message.items]
        mail.set_content("\n".join(lines))
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.user:
                    smtp.login(self.user, self.password or "")
                refused = smtp.send_message(mail)
        except (OSError, smtplib.SMTPException) as e:
            raise SendError(f"{type(e).__name__}: {e}") from None
        if refused:
            raise SendError(f"refused: {refused}")
        return f"accepted by {self.host}:{self.port}"
