"""The ops console: server-rendered pages (Jinja2, a little vanilla JS, no build step)."""
