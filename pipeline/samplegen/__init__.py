"""The project's own sample-form generator.

Makes Swedish municipal-style forms from layouts written in code (``forms``): the blank
fillable PDF, the template with reference images, filled instances with realistic values
(``values``) and their scan-like copies (``degrade``). Tests and benchmarks use it for
golden cases; nothing here reads outside files.
"""
