"""The one exception type the library raises for bad user input.

Every message names the problem and the fix. The CLI prints it as one line (no traceback);
library users can catch it, and it is a ``ValueError`` so generic handlers still work.
"""


class MaVlmInputError(ValueError):
    """Bad input from the user: wrong shape, missing focal length, mismatched checkpoint keys..."""
