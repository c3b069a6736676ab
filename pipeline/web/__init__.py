"""The review and admin UI (``blankett serve``): FastAPI, server-rendered Jinja pages, htmx
for the small interactive parts, and one small script for keyboard-only review."""
