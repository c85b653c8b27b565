"""Account statements: what a user's wallet did over a period, as CSV or PDF (``docs/api.md``, "Statements").

Not to be confused with ``ledger/statements.py`` (compiled SQL statements). ``period`` parses the
dates, ``builder`` reads the ledger into a ``Statement``, ``csv`` and ``pdf`` write it, ``responses``
answers HTTP with it (the API and the page share it).
"""
