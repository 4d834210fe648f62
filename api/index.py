"""The deployable ASGI app (Vercel serves `app`; Lambda wraps it with mangum)."""

from tiergate.web.example import create_app

app = create_app()
