"""The drop-folder service: watch the inbox, take files in, run them on workers, write
the outcomes and drain the outbox into the case targets (``loop`` ties them together)."""
