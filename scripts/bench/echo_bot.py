"""The stock echo bot, as Microsoft's Python samples write it (botbuilder's CloudAdapter with
ConfigurationBotFrameworkAuthentication, an ActivityHandler replying with the text): the
anchor the bot is measured against.

Its settings, as the samples read them, with the benchmark's stand-ins: MicrosoftAppId,
MicrosoftAppPassword, TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL (the Bot Framework's keys),
TO_CHANNEL_FROM_BOT_LOGIN_URL (Entra's authority for its token), PORT. Naming any endpoint makes
botbuilder take all of them from the configuration (as for a sovereign cloud): the issuer and
the scope are the public cloud's.

    python -m scripts.bench.echo_bot
"""

from __future__ import annotations

import os
from types import SimpleNamespace
from urllib.parse import urlsplit

from aiohttp import web
from botbuilder.core import ActivityHandler, MessageFactory, TurnContext
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication

from bot.settings import BOT_FRAMEWORK_ISSUER
from scripts.bench.local_authority import trust

CONFIG = SimpleNamespace(
    PORT=int(os.environ.get("PORT", "3979")),
    APP_ID=os.environ.get("MicrosoftAppId", ""),
    APP_PASSWORD=os.environ.get("MicrosoftAppPassword", ""),
    APP_TYPE="MultiTenant",
    APP_TENANTID="",
    TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL=os.environ["TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL"],
    TO_BOT_FROM_CHANNEL_TOKEN_ISSUER=BOT_FRAMEWORK_ISSUER,
    TO_CHANNEL_FROM_BOT_LOGIN_URL=os.environ["TO_CHANNEL_FROM_BOT_LOGIN_URL"],
    TO_CHANNEL_FROM_BOT_OAUTH_SCOPE=BOT_FRAMEWORK_ISSUER,  # the same URL
    VALIDATE_AUTHORITY=False,
)


class EchoBot(ActivityHandler):  # type: ignore[misc]
    async def on_message_activity(self, turn_context: TurnContext) -> None:
        text = turn_context.activity.text
        await turn_context.send_activity(MessageFactory.text(f"Echo: {text}"))


ADAPTER = CloudAdapter(ConfigurationBotFrameworkAuthentication(CONFIG))
BOT = EchoBot()


async def messages(req: web.Request) -> web.Response:
    response: web.Response = await ADAPTER.process(req, BOT)
    return response


def main() -> None:
    trust(urlsplit(CONFIG.TO_CHANNEL_FROM_BOT_LOGIN_URL).hostname or "")
    app = web.Application()
    app.router.add_post("/api/messages", messages)
    web.run_app(app, host="127.0.0.1", port=CONFIG.PORT, print=None, access_log=None)


if __name__ == "__main__":
    main()
