"""Py4J's reflection answers, kept for the life of a driver JVM.

PySpark asks the JVM what a name is before each call made through it:
``F.sum("v")`` asks what ``org.apache.spark.sql.functions`` is, then what its ``sum`` is,
then calls it, and ``F.col("v")`` does the same: about half of the JVM round trips of a
cell that builds a DataFrame are such questions. A class found by a name stays that
class, and a static method's name stays a method, so those answers are kept and only the
calls go to the JVM. Never kept: packages (an unknown name is a "package" until a jar
brings a class of that name), fields (their values change), errors. An import into a JVM
view (it changes what a short name means) clears what was kept.
"""

from __future__ import annotations

from typing import Any

MAX_KEPT = 4096  # answers kept per JVM: PySpark asks a few hundred names at most

_REFLECTION = "r\n"
_VIEW = "j\n"


def keeps(command: str, answer: Any) -> bool:
    """Whether `answer` to the reflection `command` holds as long as the JVM runs."""
    if not isinstance(answer, str):
        return False
    asked = command[2:4]
    if asked == "u\n":  # what a name is: a class (``yc``), a package or nothing
        return answer.startswith("yc")
    if asked == "m\n":  # what a class's member is: a method (``ym``), a nested class or a field
        return answer.startswith(("ym", "yc"))
    return False


class ReflectionCache:
    """Answers `client`'s reflection commands it was given before without asking again."""

    def __init__(self, client: Any) -> None:
        self.answers: dict[str, str] = {}
        self.hits = 0
        send = client.send_command

        def cached(command: str, *args: Any, **kwargs: Any) -> Any:
            if command.startswith(_REFLECTION):
                answer = self.answers.get(command)
                if answer is not None:
                    self.hits += 1
                    return answer
                answer = send(command, *args, **kwargs)
                if len(self.answers) < MAX_KEPT and keeps(command, answer):
                    self.answers[command] = answer
                return answer
            if command.startswith(_VIEW):
                self.answers.clear()
            return send(command, *args, **kwargs)

        client.send_command = cached
