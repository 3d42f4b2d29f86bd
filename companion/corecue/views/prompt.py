"""Asking a person something while a belt stays connected: the question is read in a thread of its
own so that the link keeps being served, and every way the answer cannot come is one line."""
import asyncio
import threading

from corecue.link.errors import BeltError


async def prompt(ask, text):
    """ask(text) (input) in a thread of its own, so the link keeps being served while a person
    reads. A daemon thread: Ctrl-C at the prompt ends the command at once (a pool thread would
    keep the process until Enter). The end of standard input is a one-line error, not a hang."""
    loop = asyncio.get_running_loop()
    answer = loop.create_future()

    def settle(fn, value):
        if not answer.done():
            fn(value)

    def read():
        try:
            got = ask(text)
        except EOFError:
            got = BeltError("no answer: standard input has ended (run with --yes to go on "
                            "without prompts)")
        except BaseException as e:          # KeyboardInterrupt in the thread, a closed stream
            got = BeltError(f"no answer: {e!r}")
        try:
            if isinstance(got, BaseException):
                loop.call_soon_threadsafe(settle, answer.set_exception, got)
            else:
                loop.call_soon_threadsafe(settle, answer.set_result, got)
        except RuntimeError:
            pass                            # the command has already ended
    threading.Thread(target=read, daemon=True).start()
    return await answer
