"""The pipeline stages: plain functions over frozen records, in the order ``run`` gives."""
