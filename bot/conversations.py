"""Button actions that take more than a press.

提交整改: the note (text — or a photo or document whose caption is the note), then evidence (a
photo or document, or /skip), then what will be submitted is shown and must be confirmed
(确认提交 / 取消). /cancel leaves at any step; after `telegram.conversation_timeout_minutes`
(default 30) without an answer the conversation ends and says so, so a later casual "收到" never
becomes a note.

退回: the reason, which the route stage sends back to the officer.
"""
from __future__ import annotations

import warnings

from telegram import Update
from telegram.ext import (CallbackQueryHandler, CommandHandler, ConversationHandler, MessageHandler, TypeHandler,
                          filters)

from checker import findings as fnd

from .commands import guard
from .notifiers.telegram import esc

NOTE, EVIDENCE, CONFIRM, REASON = range(4)
END = ConversationHandler.END
TIMEOUT = ConversationHandler.TIMEOUT
SUPERVISING = ("supervisor", "admin")
MEDIA = filters.PHOTO | filters.Document.ALL


async def rectify_start(g):
    """提交整改 pressed: check the finding may be submitted by this user, then ask for the note."""
    minutes = g.cfg.telegram.conversation_timeout_minutes
    return await _begin(g, "submit", "rectify", NOTE, "您无权为问题 #{fid} 提交整改。",
                        "请发送问题 #{fid} 的整改说明（文字），也可以直接发送带说明文字的照片或文件。"
                        f"发送 /cancel 放弃；{minutes:g} 分钟内未完成将自动结束。")


async def _begin(g, action: str, key: str, state: int, refused: str, prompt: str):
    """Open a conversation about the finding on the pressed button, if the user may `action` it."""
    fids = [int(x) for x in g.update.callback_query.data.split(":", 1)[1].split(",")]
    for fid in fids:
        row = await g.call(fnd.get_finding, g.store, fid, scope=g.scope, now=g.now)
        if not g.scope.can_act(row, action):
            await g.reply(refused.format(fid=fid))
            return END
    g.context.user_data.clear()
    g.context.user_data[key] = fids if len(fids) > 1 else fids[0]
    await g.reply(prompt.format(fid=_numbers(fids)))
    return state


def _numbers(fids) -> str:
    """68 → "68"; [68, 69] → "68、#69" (after a "#" in the text)."""
    fids = fids if isinstance(fids, list) else [fids]
    return "、#".join(map(str, fids))


async def rectify_note(g):
    """The rectification note as text; then ask for evidence (unless it came first)."""
    g.context.user_data["note"] = g.update.effective_message.text.strip()
    if "evidence" in g.context.user_data:
        return await _confirm(g)
    await g.reply("请发送整改照片或文件作为证据，没有证据请发送 /skip。")
    return EVIDENCE


async def rectify_media_first(g):
    """A photo or document before any note: its caption is the note; without one, ask for the note."""
    await _keep_media(g)
    caption = (g.update.effective_message.caption or "").strip()
    if not caption:
        await g.reply("已收到证据文件。请再发送整改说明（文字）。")
        return NOTE
    g.context.user_data["note"] = caption
    return await _confirm(g)


async def rectify_evidence(g):
    """A photo or document as evidence; a caption is added to the note."""
    await _keep_media(g)
    caption = (g.update.effective_message.caption or "").strip()
    if caption:
        g.context.user_data["note"] = "；".join(x for x in (g.context.user_data.get("note"), caption) if x)
    return await _confirm(g)


async def rectify_skip(g):
    """/skip: no evidence."""
    return await _confirm(g)


async def _keep_media(g) -> None:
    """Download a photo or document through the Bot API and keep it until the submission is confirmed."""
    message = g.update.effective_message
    media = message.document or (message.photo[-1] if message.photo else None)
    name = getattr(media, "file_name", None) or f"photo_{media.file_unique_id}.jpg"
    content = bytes(await (await media.get_file()).download_as_bytearray())
    g.context.user_data["evidence"] = (name, content)


async def _confirm(g):
    """Show what will be submitted and ask to confirm."""
    data = g.context.user_data
    fid, evidence = data["rectify"], data.get("evidence")
    if not data.get("note"):
        await g.reply("请发送整改说明（文字）。")
        return NOTE
    shown = f"{esc(evidence[0])}（{len(evidence[1]):,} 字节）" if evidence else "无"
    ids = fid if isinstance(fid, list) else [fid]
    key = ",".join(map(str, ids))
    await g.reply(f"即将提交问题 #{_numbers(ids)} 的整改：\n说明：{esc(data['note'])}\n证据：{shown}\n确认提交吗？",
                  [[(f"确认提交 #{_numbers(ids)}", f"rc:{key}"), ("取消", f"rx:{key}")]])
    return CONFIRM


async def rectify_confirmed(g):
    """确认提交 pressed: submit the note and evidence shown."""
    data = g.context.user_data
    fid, note, evidence = data.pop("rectify"), data.pop("note"), data.pop("evidence", None)
    for one in (fid if isinstance(fid, list) else [fid]):
        await g.call(fnd.submit, g.store, one, g.scope.officer_id, note, evidence=evidence, now=g.now, data=g.audit)
    extra = "（含证据文件）" if evidence else ""
    await g.reply(f"✅ 问题 #{_numbers(fid)} 已提交整改{extra}，等待监管人员复查。")
    return END


async def confirm_please(g):
    """Anything but a button while the submission waits for confirmation."""
    await g.reply("请点“确认提交”提交，或点“取消”放弃；也可发送 /cancel。")
    return CONFIRM


async def reject_start(g):
    """退回 pressed: ask the supervisor for the reason."""
    return await _begin(g, "verify", "reject", REASON, "您无权复查问题 #{fid}。",
                        "请发送退回问题 #{fid} 的理由，将转告责任人。发送 /cancel 放弃。")


async def reject_reason(g):
    """The reason: the finding goes back to the officer (verify failed)."""
    fid = g.context.user_data.pop("reject")
    await g.call(fnd.verify, g.store, fid, g.scope.officer_id, passed=False, note=g.update.effective_message.text,
                 now=g.now, data=g.audit)
    await g.reply(f"已退回问题 #{fid}，理由已转告责任人。")
    return END


async def cancel(g):
    """/cancel or 取消: leave the conversation without changing anything."""
    g.context.user_data.clear()
    await g.reply("已取消，未做任何更改。")
    return END


async def timed_out(update, context) -> None:
    """No answer within the timeout: say that it ended and that nothing changed."""
    minutes = context.application.bot_data["cfg"].telegram.conversation_timeout_minutes
    context.user_data.clear()
    chat = update.effective_chat
    if chat is not None:
        await context.bot.send_message(chat.id, f"操作已超时结束（{minutes:g} 分钟内未完成），未做任何更改。"
                                                "如需提交整改，请再次点击“提交整改”。")


def _step(fn, roles=None):
    """A conversation step, guarded like every handler; an error ends the conversation."""
    guarded = guard(fn, roles)

    async def step(update, context):
        result = await guarded(update, context)
        return result if isinstance(result, int) else END
    step.__doc__ = fn.__doc__
    return step


def conversations(cfg) -> list[ConversationHandler]:
    text = filters.TEXT & ~filters.COMMAND
    timeout = cfg.telegram.conversation_timeout_minutes * 60
    stop = [CommandHandler("cancel", _step(cancel))]
    with warnings.catch_warnings():       # entry by button, then messages: per_message=False is meant
        warnings.simplefilter("ignore")
        return [
            ConversationHandler(
                entry_points=[CallbackQueryHandler(_step(rectify_start), pattern=r"^rect:\d+(,\d+)*$")],
                states={NOTE: [MessageHandler(text, _step(rectify_note)),
                               MessageHandler(MEDIA, _step(rectify_media_first))],
                        EVIDENCE: [MessageHandler(MEDIA, _step(rectify_evidence)),
                                   CommandHandler("skip", _step(rectify_skip))],
                        CONFIRM: [CallbackQueryHandler(_step(rectify_confirmed), pattern=r"^rc:\d+(,\d+)*$"),
                                  CallbackQueryHandler(_step(cancel), pattern=r"^rx:\d+(,\d+)*$"),
                                  MessageHandler(text | MEDIA, _step(confirm_please))],
                        TIMEOUT: [TypeHandler(Update, timed_out)]},
                fallbacks=stop, name="rectify", conversation_timeout=timeout),
            ConversationHandler(
                entry_points=[CallbackQueryHandler(_step(reject_start, SUPERVISING), pattern=r"^vf:\d+$")],
                states={REASON: [MessageHandler(text, _step(reject_reason))],
                        TIMEOUT: [TypeHandler(Update, timed_out)]},
                fallbacks=stop, name="reject", conversation_timeout=timeout),
        ]
