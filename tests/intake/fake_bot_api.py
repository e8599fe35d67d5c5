"""A local stand-in for the Telegram Bot API on 127.0.0.1: getMe, getUpdates, sendMessage and
deleteMessage, enough for the bot's long polling, and setWebhook, deleteWebhook and
getWebhookInfo for webhook mode (getUpdates is refused while a webhook is set, as Telegram does).
No network beyond the loopback."""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

BOT_ID = 7000001


@dataclass
class FakeBotApi:
    token: str
    updates: list[dict[str, Any]] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)
    deleted: list[tuple[int, int]] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    confirmed: int = 0
    webhook: dict[str, Any] = field(default_factory=dict)
    _next_update: int = 100
    _next_message: int = 1
    lock: threading.Lock = field(default_factory=threading.Lock)

    def message(
        self,
        chat_id: int,
        text: str,
        *,
        chat_type: str = "private",
        language: str = "en",
        message_id: int | None = None,
    ) -> dict[str, Any]:
        """Queue a text message from `chat_id`; returns the update."""
        with self.lock:
            self._next_update += 1
            self._next_message += 1
            update = {
                "update_id": self._next_update,
                "message": {
                    "message_id": message_id or self._next_message,
                    "date": int(time.time()),
                    "chat": {"id": chat_id, "type": chat_type, "first_name": "P"},
                    "from": {
                        "id": chat_id,
                        "is_bot": False,
                        "first_name": "P",
                        "language_code": language,
                    },
                    "text": text,
                },
            }
            self.updates.append(update)
            return update

    def redeliver(self, update: dict[str, Any]) -> None:
        """Telegram sends an update again when its offset was never confirmed."""
        with self.lock:
            self._next_update += 1
            self.updates.append({**update, "update_id": self._next_update})

    def replies_to(self, chat_id: int) -> list[str]:
        return [m["text"] for m in self.sent if int(m["chat_id"]) == chat_id]

    def answer(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self.calls.append(method)
        if method == "getMe":
            return 200, {
                "ok": True,
                "result": {
                    "id": BOT_ID,
                    "is_bot": True,
                    "first_name": "Notes",
                    "username": "n_bot",
                },
            }
        if method == "getUpdates":
            if self.webhook:
                return 409, {
                    "ok": False,
                    "error_code": 409,
                    "description": "Conflict: can't use getUpdates method while webhook is active",
                }
            return 200, {"ok": True, "result": self._get_updates(params)}
        if method in {"sendMessage", "deleteMessage"}:
            return self._message_call(method, params)
        if method in {"setWebhook", "deleteWebhook", "getWebhookInfo"}:
            return self._webhook_call(method, params)
        return 404, {"ok": False, "error_code": 404, "description": "Not Found"}

    def _message_call(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if method == "sendMessage":
            with self.lock:
                self.sent.append({"chat_id": params["chat_id"], "text": params["text"]})
                self._next_message += 1
                number = self._next_message
            chat = {"id": int(params["chat_id"]), "type": "private", "first_name": "P"}
            result = {"message_id": number, "date": int(time.time()), "chat": chat}
            return 200, {"ok": True, "result": {**result, "text": params["text"]}}
        self.deleted.append((int(params["chat_id"]), int(params["message_id"])))
        return 200, {"ok": True, "result": True}

    def _webhook_call(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if method == "setWebhook":
            self.webhook = dict(params)
            return 200, {"ok": True, "result": True, "description": "Webhook was set"}
        if method == "deleteWebhook":
            self.webhook = {}
            if str(params.get("drop_pending_updates", "")).lower() in {"true", "1"}:
                self.updates.clear()
            return 200, {"ok": True, "result": True, "description": "Webhook was deleted"}
        info = {
            "url": self.webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self.updates),
        }
        return 200, {"ok": True, "result": info}

    def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        with self.lock:
            if offset:
                self.confirmed = max(self.confirmed, offset)
                self.updates = [u for u in self.updates if u["update_id"] >= offset]
            return self.updates[:limit]


def _params(handler: BaseHTTPRequestHandler) -> dict[str, Any]:
    length = int(handler.headers.get("Content-Length") or 0)
    raw = handler.rfile.read(length) if length else b""
    kind = handler.headers.get("Content-Type", "")
    if kind.startswith("application/json"):
        return dict(json.loads(raw or b"{}"))
    parsed = urllib.parse.parse_qs(raw.decode(), keep_blank_values=True)
    return {key: values[-1] for key, values in parsed.items()}


def serve(api: FakeBotApi) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            api.paths.append(self.path)
            prefix = f"/bot{api.token}/"
            if not self.path.startswith(prefix):
                status, body = 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
            else:
                status, body = api.answer(self.path[len(prefix) :], _params(self))
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            del format, args

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    return server, f"http://{host!s}:{port}"
