"""The deployable ASGI app: Vercel serves `app`, AWS Lambda calls `handler` (mangum)."""

from mangum import Mangum

from tiergate.web.example import create_app

app = create_app()
handler = Mangum(app, lifespan="off")
