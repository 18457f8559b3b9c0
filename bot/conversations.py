"""Two-step button actions: 提交整改 (a note, then a photo/document as evidence or /skip) and
退回 (a reason, which the route stage sends back to the officer)."""
from __future__ import annotations

import warnings

from telegram.ext import CallbackQueryHandler, CommandHandler, ConversationHandler, MessageHandler, filters

from checker import findings as fnd
from .commands import _guard

NOTE, EVIDENCE, REASON = range(3)
END = ConversationHandler.END
SUPERVISING = ("supervisor", "admin")


async def rectify_start(g):
    """提交整改 pressed: check the finding may be submitted by this user, then ask for the note."""
    return await _begin(g, "submit", "rectify", NOTE, "您无权为问题 #{fid} 提交整改。",
                        "请发送问题 #{fid} 的整改说明（文字）。发送 /cancel 放弃。")


async def _begin(g, action: str, key: str, state: int, refused: str, prompt: str):
    """Open a conversation about the finding on the pressed button, if the user may `action` it."""
    fid = int(g.update.callback_query.data.split(":", 1)[1])
    row = await g.call(fnd.get_finding, g.store, fid, scope=g.scope, now=g.now)
    if not g.scope.can_act(row, action):
        await g.reply(refused.format(fid=fid))
        return END
    g.context.user_data[key] = fid
    await g.reply(prompt.format(fid=fid))
    return state


async def rectify_note(g):
    """The rectification note; then ask for evidence."""
    g.context.user_data["note"] = g.update.effective_message.text
    await g.reply("请发送整改照片或文件作为证据，没有证据请发送 /skip。")
    return EVIDENCE


async def rectify_evidence(g):
    """A photo or document: download it through the Bot API and submit it with the note."""
    message = g.update.effective_message
    media = message.document or (message.photo[-1] if message.photo else None)
    name = getattr(media, "file_name", None) or f"photo_{media.file_unique_id}.jpg"
    content = bytes(await (await media.get_file()).download_as_bytearray())
    return await _submit(g, (name, content))


async def rectify_skip(g):
    """/skip: submit without evidence."""
    return await _submit(g, None)


async def _submit(g, evidence):
    fid, note = g.context.user_data.pop("rectify"), g.context.user_data.pop("note")
    await g.call(fnd.submit, g.store, fid, g.scope.officer_id, note, evidence=evidence, now=g.now, data=g.audit)
    extra = "（含证据文件）" if evidence else ""
    await g.reply(f"✅ 问题 #{fid} 已提交整改{extra}，等待监管人员复查。")
    return END


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
    """/cancel: leave the conversation without changing anything."""
    g.context.user_data.clear()
    await g.reply("已取消，未做任何更改。")
    return END


def _step(fn, roles=None):
    """A conversation step, guarded like every handler; an error ends the conversation."""
    guarded = _guard(fn, roles)

    async def step(update, context):
        result = await guarded(update, context)
        return result if isinstance(result, int) else END
    step.__doc__ = fn.__doc__
    return step


def conversations() -> list[ConversationHandler]:
    text = filters.TEXT & ~filters.COMMAND
    with warnings.catch_warnings():       # entry by button, then messages: per_message=False is meant
        warnings.simplefilter("ignore")
        return [
            ConversationHandler(
                entry_points=[CallbackQueryHandler(_step(rectify_start), pattern=r"^rect:\d+$")],
                states={NOTE: [MessageHandler(text, _step(rectify_note))],
                        EVIDENCE: [MessageHandler(filters.PHOTO | filters.Document.ALL, _step(rectify_evidence)),
                                   CommandHandler("skip", _step(rectify_skip))]},
                fallbacks=[CommandHandler("cancel", _step(cancel))], name="rectify"),
            ConversationHandler(
                entry_points=[CallbackQueryHandler(_step(reject_start, SUPERVISING), pattern=r"^vf:\d+$")],
                states={REASON: [MessageHandler(text, _step(reject_reason))]},
                fallbacks=[CommandHandler("cancel", _step(cancel))], name="reject"),
        ]

