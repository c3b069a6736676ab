"""blankett: scanned paper forms in, validated case records out.

The package is a one-way pipeline of plain stage functions (see ``pipeline.run``) over
frozen records (``pipeline.records``); adapters for OCR engines and storage are chosen in
``pipeline.compose`` from the frozen config (``pipeline.config``).
"""

__version__ = "0.1.0"
