"""The deployable ASGI app: Vercel serves `app`, AWS Lambda calls `handler` (mangum)."""

from tiergate.web.example import create_app
from tiergate.web.lambda_handler import lambda_handler

app = create_app()
handler = lambda_handler(app)
