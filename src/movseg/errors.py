"""The one exception type that reaches users."""


class MovsegError(Exception):
    """A problem with the user's input or environment.

    The message is one line that says what is wrong and what to do; the CLI
    prints it as ``movseg: error: <message>`` and exits with status 1.
    """
