"""Talks to Microsoft 365 Agents Playground as its web page does: posts a message, clicks a
card button (an invoke) and reads the bot's replies from the Playground's WebSocket."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import aiohttp

BOT_ID = "00000000-0000-0000-0000-00000000000011"
BOT_NAME = "Test Bot"
# The Playground's users (.m365agentsplayground.yml): "Me" is signed in and owns the team (in
# the local Graph stand-in); "User 1" is an ordinary member. The Playground sends what is typed
# as "Me"; another user speaks through its "Mock an activity" feature (a custom activity, from
# the Playground's own template, with that user as `from`).
ME = "user-id-0"
USER_1 = "user-id-1"
GENERAL = "team-id"  # the Playground's team "My Team": its General channel's id is the team's
ANNOUNCEMENTS = "channel-announcements-id"
PERSONAL = "personal"


@dataclass
class Reply:
    message_id: str
    conversation_id: str
    text: str | None
    cards: list[dict[str, Any]]
    updated: bool = False  # the bot replaced an earlier message (a card updated in place)


@dataclass
class Playground:
    url: str
    session: aiohttp.ClientSession
    ws: aiohttp.ClientWebSocketResponse
    replies: asyncio.Queue[Reply] = field(default_factory=asyncio.Queue)
    shown: set[str] = field(default_factory=set)  # ids of every bot message it showed
    # What the bot posted that answered nothing this client was waiting for: the notices a
    # channel gets when it loses a number, which may arrive while another answer is awaited.
    elsewhere: list[Reply] = field(default_factory=list)
    _reader: asyncio.Task[None] | None = None

    @classmethod
    async def connect(cls, url: str) -> Playground:
        session = aiohttp.ClientSession()
        ws = await session.ws_connect(f"{url}/_ws_conversation/v1/conversations/stream")
        playground = cls(url, session, ws)
        playground._reader = asyncio.create_task(playground._read())
        return playground

    async def _read(self) -> None:
        async for frame in self.ws:
            if frame.type != aiohttp.WSMsgType.TEXT:
                continue
            event = json.loads(frame.data)
            if event.get("action") not in ("createMessage", "updateMessage"):
                continue
            message = event.get("message") or {}
            if (message.get("from") or {}).get("id") != BOT_ID:
                continue
            self.shown.add(str(message.get("messageId")))
            await self.replies.put(
                Reply(
                    message_id=message["messageId"],
                    conversation_id=event.get("actionConversationId", ""),
                    text=message.get("text"),
                    cards=[
                        a["content"]
                        for a in message.get("attachments") or []
                        if a.get("contentType") == "application/vnd.microsoft.card.adaptive"
                    ],
                    updated=event["action"] == "updateMessage",
                )
            )

    async def close(self) -> None:
        if self._reader:
            self._reader.cancel()
        await self.ws.close()
        await self.session.close()

    async def chat_ids(self) -> tuple[str, str]:
        """The ids of the Playground's personal chat and its group chat."""
        async with self.session.get(f"{self.url}/_internal/v1/config") as response:
            config = (await response.json())["config"]
        return str(config["personalChat"]["id"]), str(config["groupChats"][0]["id"])

    async def say(self, conversation: str, text: str, *, mention: bool = True,
                  timeout: float = 15, user: str = ME,
                  tenant: str | None = None) -> Reply:  # fmt: skip
        """Post `@Test Bot text` as `user` does (from `tenant`, when another than the
        Playground's), and wait for the bot's answer."""
        while not self.replies.empty():
            self.elsewhere.append(self.replies.get_nowait())
        said = f"<at>{BOT_NAME}</at> {text}" if mention else text
        if user != ME or tenant is not None:
            # A custom activity is no post of the page: its answer is a new post in the
            # conversation rather than a reply in a thread.
            await self._say_as(user, conversation, said, tenant)
            return await self._reply_in(conversation, timeout)
        body: dict[str, Any] = {"type": "text", "textFormat": "plain", "from": {"id": ME},
                                "text": said}  # fmt: skip
        if mention:
            body["mentions"] = [{"mentioned": {"id": BOT_ID, "name": BOT_NAME},
                                 "text": f"<at>{BOT_NAME}</at>"}]  # fmt: skip
        async with self.session.post(
            f"{self.url}/_conversation/v1/conversations/{conversation}/messages", json=body
        ) as response:
            assert response.status == 200, await response.text()
            posted = await response.json()
        # In a channel, the bot's answer is in the thread of the message (its
        # `postConversationId`), and a notice posted meanwhile is a new post of the channel;
        # a chat has no threads.
        return await self._reply_in(str(posted.get("postConversationId", conversation)), timeout)

    async def _reply_in(self, conversation: str, timeout: float) -> Reply:
        """The bot's next message in `conversation`; the others are kept in `elsewhere`."""
        async with asyncio.timeout(timeout):
            while (reply := await self.replies.get()).conversation_id != conversation:
                self.elsewhere.append(reply)
        return reply

    async def notice(self, conversation: str, about: str, timeout: float = 15) -> Reply:
        """The post the bot made in `conversation` on its own (a notice, not in reply to a
        message) with `about` in its card."""
        async with asyncio.timeout(timeout):
            while True:
                for reply in self.elsewhere:
                    if reply.conversation_id == conversation and any(
                        about in card_text(card) for card in reply.cards
                    ):
                        return reply
                self.elsewhere.append(await self.replies.get())

    async def _say_as(self, user: str, conversation: str, text: str,
                      tenant: str | None) -> None:  # fmt: skip
        """A message from another user, or from another organization's tenant, as the
        Playground's "Mock an activity" sends it: a channel's carries its team."""
        async with self.session.get(f"{self.url}/_internal/v1/config") as response:
            config = (await response.json())["config"]
        [account] = [u for u in [config["currentUser"], *config["users"]] if u["id"] == user]
        async with self.session.get(
            f"{self.url}/_internal/v1/customActivities/template",
            params={"conversationId": conversation},
        ) as response:
            assert response.status == 200, await response.text()
            activity: dict[str, Any] = await response.json()
        tenant = tenant or config["tenantId"]
        channel_data: dict[str, Any] = {"tenant": {"id": tenant}}
        if conversation in (GENERAL, ANNOUNCEMENTS):
            channel_data.update({
                "teamsChannelId": conversation, "teamsTeamId": GENERAL,
                "channel": {"id": conversation}, "team": {"id": GENERAL},
            })  # fmt: skip
        activity.update({
            "type": "message", "text": text, "channelData": channel_data,
            "from": {"id": user, "name": account["name"], "aadObjectId": account["aadObjectId"]},
            "conversation": {**activity["conversation"], "tenantId": tenant},
        })  # fmt: skip
        async with self.session.post(
            f"{self.url}/_internal/v1/customActivities", json=activity
        ) as response:
            assert response.status == 200, await response.text()

    async def next_reply(self, timeout: float = 15) -> Reply:
        return await asyncio.wait_for(self.replies.get(), timeout)

    async def click(self, reply: Reply, title: str, card_index: int = 0,
                    **inputs: str) -> dict[str, Any]:  # fmt: skip
        """Click a card's Action.Execute button; the answer is the card that replaces it."""
        action = find_action(reply.cards[card_index], title)
        payload = {
            "name": "adaptiveCard/action",
            "value": {"action": {**action, "data": {**action["data"], **inputs}}},
            "from": {"id": ME},
            "conversation": {"id": reply.conversation_id},
            "replyToId": reply.message_id,
        }
        async with self.session.post(
            f"{self.url}/_conversation/v1/invoke", json=payload
        ) as response:
            assert response.status == 200, await response.text()
            answer: dict[str, Any] = await response.json()
        assert answer["type"] == "application/vnd.microsoft.card.adaptive", answer
        card: dict[str, Any] = answer["value"]
        reply.cards[card_index] = card  # the card changes in place
        return card


def find_action(card: Any, title: str) -> dict[str, Any]:
    if isinstance(card, dict):
        if card.get("type") == "Action.Execute" and card.get("title") == title:
            return card
        children: list[Any] = list(card.values())
    elif isinstance(card, list):
        children = card
    else:
        children = []
    for child in children:
        try:
            return find_action(child, title)
        except LookupError:
            continue
    raise LookupError(title)


def card_text(card: Any) -> str:
    if isinstance(card, dict):
        own = [card[k] for k in ("text", "title", "value") if isinstance(card.get(k), str)]
        return "\n".join(own + [card_text(v) for v in card.values() if isinstance(v, dict | list)])
    if isinstance(card, list):
        return "\n".join(card_text(v) for v in card)
    return ""
