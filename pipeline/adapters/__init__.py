"""Adapters behind the ports: OCR engines and the record store. Chosen in ``compose``."""
