"""The words of the plan's notices and e-mails (publication, changes, reminders), from the
services' catalog (:func:`publisher.i18n.ui_text`: English message ids, the Chinese in
``services/translations``). A unit's notice is read by its officer in either language, so
each text is written twice, Chinese first, then English (once while the catalog has no
Chinese for it yet); the subject as "中文 / English", readable before it is opened.
"""

from __future__ import annotations

from collections.abc import Callable

from publisher.i18n import UIText, ui_text
from services.filing.model import Task

LANGS = ("zh", "en")

PLAN_SUBJECT = ui_text("The %(year)s filing plan")
YOUR_TASKS = ui_text("Your unit's tasks (%(n)s):")
TASK_LINE = ui_text("[%(category)s] %(title)s · expected: %(count)s · due %(due)s · "
                    "retention %(retention)s · into %(series)s")
LISTED = ui_text("%(n)s listed items")
IN_TOPIC = ui_text("special topic: %(topic)s")
CHANGED_SUBJECT = ui_text("The %(year)s filing plan was changed")
CHANGES = {"task added": ui_text("A task was added to your unit's plan:"),
           "task changed": ui_text("A task of your unit's plan was changed:"),
           "task removed": ui_text("A task was removed from your unit's plan:")}
REMINDER_SUBJECT = ui_text("Filing reminder %(year)s: %(n)s task(s) due soon or overdue")
REMINDER_BODY = ui_text("The tasks below are due soon or overdue and not complete: please "
                        "file them.")
OVERDUE = ui_text("overdue")
DUE_SOON = ui_text("due soon")
PROGRESS = ui_text("%(state)s, %(got)s of %(of)s accepted")


def subject(text: UIText, **values: object) -> str:
    zh, en = text.in_lang("zh", **values), text.in_lang("en", **values)
    return en if zh == en else f"{zh} / {en}"


def twice(write: Callable[[str], str]) -> str:
    """``write(lang)`` for Chinese and English, one after the other (once if the same)."""
    zh, en = write("zh"), write("en")
    return en if zh == en else f"{zh}\n\n————————\n\n{en}"


def task_line(task: Task, lang: str, topic_name: str = "") -> str:
    """One task in words, in ``lang`` (its English title when it has one)."""
    count = (str(task.expected) if task.expected >= len(task.expected_list)
             else LISTED.in_lang(lang, n=len(task.expected_list)))
    line = TASK_LINE.in_lang(
        lang, category=task.category,
        title=task.title_en if lang == "en" and task.title_en else task.title_zh,
        count=count, due=task.due, retention=task.retention, series=task.series)
    if task.topic:
        line += " · " + IN_TOPIC.in_lang(lang, topic=topic_name or task.topic)
    return line
