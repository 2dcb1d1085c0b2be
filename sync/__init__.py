"""Discovery, secure links and replication of a session between laptops."""

import logging

# A library logs; the program decides where logs go (``cercle -v`` shows them).
logging.getLogger("cercle").addHandler(logging.NullHandler())
